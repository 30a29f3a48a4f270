package tokenwire

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// tokenFields are the members of a token endpoint's JSON object that
// oauthlink reads, as raw JSON (nil when absent), plus whether any other
// member is present.
type tokenFields struct {
	access, refresh, tokenType, expiresIn, scope json.RawMessage
	errCode, errDesc                             json.RawMessage
	other                                        bool
}

// readTokenFields splits a JSON object into the fields above without
// building a map. isObject is false unless doc is valid JSON whose value is
// an object. Once json.Valid has checked the document, only its top level
// is walked. A repeated member keeps its last value, and a name written with
// escapes is decoded first, both exactly as encoding/json decodes into a
// map (checked by FuzzReadTokenFields).
func readTokenFields(doc []byte) (f tokenFields, isObject bool) {
	if !json.Valid(doc) {
		return f, false
	}
	i := skipSpace(doc, 0)
	if doc[i] != '{' {
		return f, false
	}
	i++
	for {
		i = skipSpace(doc, i)
		switch doc[i] {
		case '}':
			return f, true
		case ',':
			i = skipSpace(doc, i+1)
		}
		kEnd := skipValue(doc, i)
		key := doc[i:kEnd]
		i = skipSpace(doc, kEnd)
		i = skipSpace(doc, i+1) // the colon
		vEnd := skipValue(doc, i)
		val := json.RawMessage(doc[i:vEnd:vEnd])
		i = vEnd
		name := key[1 : len(key)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			var s string
			jsonString(key, &s)
			name = []byte(s)
		}
		switch string(name) {
		case "access_token":
			f.access = val
		case "refresh_token":
			f.refresh = val
		case "token_type":
			f.tokenType = val
		case "expires_in":
			f.expiresIn = val
		case "scope":
			f.scope = val
		case "error":
			f.errCode = val
		case "error_description":
			f.errDesc = val
			f.other = true // kept in Extra on success, as before
		default:
			f.other = true
		}
	}
}

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at i, in a
// document json.Valid accepted.
func skipValue(doc []byte, i int) int {
	depth := 0
	for ; i < len(doc); i++ {
		switch c := doc[i]; c {
		case '"':
			for i++; doc[i] != '"'; i++ {
				if doc[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of the enclosing container
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// isBearer reports whether a raw token_type is the string "bearer" in any
// case (RFC 6749 §5.1: case-insensitive).
func isBearer(raw json.RawMessage) bool {
	if len(raw) == 8 && raw[0] == '"' && raw[7] == '"' {
		return strings.EqualFold(string(raw[1:7]), "bearer")
	}
	var tt string
	return jsonString(raw, &tt) && strings.EqualFold(tt, "bearer")
}

// smallSeconds reads a JSON number of at most 9 digits and nothing else.
func smallSeconds(raw []byte) (n int, ok bool) {
	if len(raw) == 0 || len(raw) > 9 {
		return 0, false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// jsonString decodes a JSON string. raw comes from a document that already
// parsed, so a valid UTF-8 string without a backslash is its bytes between
// the quotes (exactly what encoding/json would produce); anything else takes
// the full decoder.
func jsonString(raw json.RawMessage, dst *string) bool {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 && utf8.Valid(raw[1:n-1]) {
		*dst = string(raw[1 : n-1])
		return true
	}
	return len(raw) > 0 && json.Unmarshal(raw, dst) == nil
}
