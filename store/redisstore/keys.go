package redisstore

import "strings"

// escape encodes a key component: ASCII letters, digits and "-._~@+" stay,
// every other byte becomes %XX. Since '%' itself is escaped the encoding is
// injective, and the result never contains ':', '{', '}' or glob
// characters.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '@', c == '+':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// ownerTag returns the Redis Cluster hash tag of owner's keys. Redis
// hashes the whole key when the braces hold nothing, which would put the
// empty owner's record and index in different slots, so the empty owner's
// tag is "{%}": escape never returns a lone '%', so no other owner has it.
func ownerTag(owner string) string {
	if owner == "" {
		return "{%}"
	}
	return "{" + escape(owner) + "}"
}

func (s *Store) connKey(provider, owner string) string {
	return s.prefix + "conn:" + ownerTag(owner) + ":" + escape(provider)
}

func (s *Store) indexKey(owner string) string { return s.prefix + "owner:" + ownerTag(owner) }

func (s *Store) lockKey(provider, owner string) string {
	return s.prefix + "lock:" + ownerTag(owner) + ":" + escape(provider)
}

func (s *Store) stateKey(key string) string { return s.prefix + "state:" + escape(key) }
