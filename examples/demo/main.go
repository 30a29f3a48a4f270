// Command demo is oauthlink's demo: a small platform whose users link their
// Mollie and Qonto accounts. With no configuration at all it runs both
// providers against the built-in fakes from oauthlinktest (labelled
// "sandbox" on the page), stores tokens encrypted in a SQLite file, and
// serves on http://127.0.0.1:8080:
//
//	go run ./examples/demo
//
// Given credentials (MOLLIE_CLIENT_ID, QONTO_CLIENT_ID, ...) the same binary
// talks to the real providers. README.md beside this file is the contract:
// every environment variable, route and status code.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("demo stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if cfg, err = cfg.withDefaults(); err != nil {
		return err
	}
	handler, cleanup, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer cleanup()
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// Listening already: whoever reads this line can connect.
	log.Info("oauthlink demo ready: open " + cfg.PublicURL + " in a browser")
	fmt.Fprintf(os.Stderr, "\n  oauthlink demo: open %s\n\n", cfg.PublicURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
