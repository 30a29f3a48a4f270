// Command oauthlink operates the connections an oauthlink app keeps: it
// lists them, shows one, counts them, re-encrypts every record under the
// newest token key, runs one Keeper pass, and migrates the schema. It
// opens the store the app is configured with, from the demo's environment
// variables (package storeenv): OAUTHLINK_STORE, OAUTHLINK_TOKEN_KEY and
// OAUTHLINK_OLD_TOKEN_KEYS. It never prints a token or a key.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newCLI(os.Getenv, os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command line args with the environment getenv and returns
// the exit status.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return newCLI(getenv, stdout, stderr).run(context.Background(), args)
}

// cli is one invocation.
type cli struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	// open opens the encrypted store; tests replace it.
	open func(ctx context.Context) (*encrypted.Store, func() error, error)
	// terminal reports whether w is a terminal.
	terminal func(w io.Writer) bool
}

func newCLI(getenv func(string) string, stdout, stderr io.Writer) *cli {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr, terminal: isTerminal}
	c.open = c.openEnv
	return c
}

// command is a subcommand.
type command struct {
	name, args, summary string
	run                 func(c *cli, ctx context.Context, name string, args []string) error
}

// commands lists the subcommands (a function: they refer to it for their
// help).
func commands() []command {
	return []command{
		{"list", "[flags]", "list connections (never a token)", (*cli).list},
		{"show", "[flags] PROVIDER OWNER", "show one connection's every non-secret field", (*cli).show},
		{"stats", "[flags]", "count connections by provider and status, and those due for upkeep", (*cli).stats},
		{"rewrap", "[flags]", "re-encrypt every record under the first token key, so old keys can be retired", (*cli).rewrap},
		{"keep", "--once [flags]", "run one Keeper pass: refresh idle connections, retry pending revocations", (*cli).keep},
		{"revoke", "PROVIDER OWNER", "revoke a connection's grant at the provider and delete it", (*cli).revoke},
		{"migrate", "[flags]", "create or upgrade the store's schema", (*cli).migrate},
	}
}

const envHelp = `Environment:
  OAUTHLINK_STORE           sqlite:<path> (default sqlite:oauthlink-demo.db), memory,
                            postgres://…, redis://…
  OAUTHLINK_TOKEN_KEY       base64 of 32 bytes: decrypts, and encrypts (rewrap);
                            unset with SQLite: the key file <path>.token-key
  OAUTHLINK_OLD_TOKEN_KEYS  base64 keys separated by commas: decrypt only
`

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: oauthlink COMMAND [flags] [args]\n\nCommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "\nRun 'oauthlink COMMAND --help' for a command's flags.\n\n%s", envHelp)
}

// errHelp ends a command that printed its help: exit 0.
var errHelp = errors.New("help")

// usageError is a bad command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		c.usage(c.stdout)
		return 0
	}
	for _, cmd := range commands() {
		if cmd.name != args[0] {
			continue
		}
		err := cmd.run(c, ctx, cmd.name, args[1:])
		var ue usageError
		switch {
		case err == nil, errors.Is(err, errHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(c.stderr, "oauthlink %s: %s\nRun 'oauthlink %s --help' for usage.\n", cmd.name, ue.msg, cmd.name)
			return 2
		default:
			fmt.Fprintf(c.stderr, "oauthlink %s: %v\n", cmd.name, err)
			return 1
		}
	}
	fmt.Fprintf(c.stderr, "oauthlink: unknown command %q\nRun 'oauthlink --help' for usage.\n", args[0])
	return 2
}

// flags returns the FlagSet of a command; parse prints its help.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("oauthlink "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args into fs and checks the number of positional
// arguments. --help prints the command's usage on stdout and returns
// errHelp.
func (c *cli) parse(fs *flag.FlagSet, args []string, nargs int) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.commandUsage(fs)
		return errHelp
	}
	if err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() != nargs {
		if fs.NArg() > nargs {
			return usagef("unexpected argument %q", fs.Arg(nargs))
		}
		return usagef("%d argument(s) required, got %d", nargs, fs.NArg())
	}
	return nil
}

func (c *cli) commandUsage(fs *flag.FlagSet) {
	name := strings.TrimPrefix(fs.Name(), "oauthlink ")
	for _, cmd := range commands() {
		if cmd.name == name {
			fmt.Fprintf(c.stdout, "Usage: oauthlink %s %s\n\n%s.\n", cmd.name, cmd.args, upperFirst(cmd.summary))
		}
	}
	if help, ok := commandHelp[name]; ok {
		fmt.Fprintf(c.stdout, "\n%s", help)
	}
	fmt.Fprintf(c.stdout, "\nFlags:\n")
	fs.SetOutput(c.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(c.stdout, "\n%s", envHelp)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// openEnv opens the store the environment names. Unlike the demo it
// creates nothing: a SQLite file or key file that does not exist is an
// error (migrate creates the database).
func (c *cli) openEnv(ctx context.Context) (*encrypted.Store, func() error, error) {
	e, err := storeenv.FromEnv(c.getenv)
	if err != nil {
		return nil, nil, err
	}
	if e.Spec.Kind == "sqlite" {
		if _, err := os.Stat(e.Spec.Path); err != nil {
			return nil, nil, fmt.Errorf("no SQLite database at %s (OAUTHLINK_STORE); 'oauthlink migrate' creates one", e.Spec.Path)
		}
		if e.TokenKey == nil {
			if _, err := os.Stat(storeenv.KeyFile(e.Spec)); err != nil {
				return nil, nil, fmt.Errorf("OAUTHLINK_TOKEN_KEY is not set and there is no key file %s", storeenv.KeyFile(e.Spec))
			}
		}
	}
	st, closeStore, _, err := e.Open(ctx, c.logger())
	return st, closeStore, err
}

// logger logs the stores' warnings on stderr.
func (c *cli) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// withStore opens the store, runs f and closes the store.
func (c *cli) withStore(ctx context.Context, f func(st *encrypted.Store) error) error {
	st, closeStore, err := c.open(ctx)
	if err != nil {
		return err
	}
	err = f(st)
	if cerr := closeStore(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the store: %w", cerr)
	}
	return err
}

// errNoScan is the error of a command that enumerates connections on a
// store that cannot.
var errNoScan = errors.New("this store cannot enumerate connections (its driver does not implement store.Scanner)")

// scanner returns the driver's Scanner, below the encryption: listing
// reads metadata only, which is not encrypted, so a record that fails to
// open does not hide the others.
func scanner(st *encrypted.Store) (store.Scanner, error) {
	sc, ok := store.Capability[store.Scanner](st.Unwrap())
	if !ok {
		return nil, errNoScan
	}
	return sc, nil
}

// scanAll calls f with every connection q selects, page by page.
func scanAll(ctx context.Context, sc store.Scanner, q store.Query, f func(*store.Connection) error) error {
	for {
		p, err := sc.Scan(ctx, q)
		if errors.Is(err, encrypted.ErrNoScan) {
			return errNoScan
		}
		if err != nil {
			return err
		}
		for _, conn := range p.Connections {
			if err := f(conn); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		q.Cursor = p.Next
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
