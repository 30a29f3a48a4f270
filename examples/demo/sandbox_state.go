package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// The sandbox across restarts.
//
// Connections live in the demo's store, which may outlive the process
// (SQLite); their grants live in the fakes. So that a connection made
// before a restart keeps working, refreshing and disconnecting after it,
// each fake listens on a fixed port (OAUTHLINK_SANDBOX_*_ADDR) and keeps
// its grants in a state file beside the database (OAUTHLINK_SANDBOX_STATE).
// When a fake starts without its file while the store holds active
// connections to it, those connections point at grants nobody knows any
// more: the demo asks the connector to refresh each one, the fake refuses
// the refresh token, and the library marks the connection reauth_required,
// as it would at the real provider. The dashboard says so plainly.

// sandboxListener listens where the provider's fake should, or on a
// random loopback port when the address is unset.
func (a *app) sandboxListener(name string) (net.Listener, error) {
	addr := a.cfg.SandboxAddrs[name]
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("the sandbox %s cannot listen on %s (set OAUTHLINK_SANDBOX_%s_ADDR to another address): %w",
			name, addr, strings.ToUpper(name), err)
	}
	return ln, nil
}

// sandboxStatePath is the provider's fake's state file, or "" when the
// sandbox keeps its state in memory.
func (a *app) sandboxStatePath(name string) string {
	prefix := a.cfg.SandboxState
	switch {
	case prefix == "memory":
		return ""
	case prefix == "" && a.spec.Kind == "sqlite":
		prefix = a.spec.Path + ".sandbox"
	case prefix == "":
		return ""
	}
	return prefix + "." + name + ".json"
}

// persister is the part of a fake the state file needs.
type persister interface {
	PersistTo(path string) (bool, error)
}

// persistSandbox gives the provider's fake its state file and records
// whether the file was there.
func (a *app) persistSandbox(name string, f persister) error {
	path := a.sandboxStatePath(name)
	if path == "" {
		a.log.Info("sandbox " + name + ": state kept in memory (its grants end with the demo)")
		return nil
	}
	loaded, err := f.PersistTo(path)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w (move the file away to start that sandbox afresh)", name, err)
	}
	if loaded {
		a.log.Info("sandbox "+name+": grants restored", "file", path)
	} else {
		a.log.Info("sandbox "+name+": new state file", "file", path)
		a.sandboxFresh[name] = path
	}
	return nil
}

// sandboxLoss is what the dashboard says about a sandbox that started
// without its state file while the store held connections to it.
type sandboxLoss struct {
	Title, Path string
	// Reconnect counts the connections now reauth_required.
	Reconnect int
}

// checkSandboxState runs once at start: for each sandbox that started
// without its state file, every active connection to it in the store is
// refreshed through its connector, which the fake refuses, so the
// library marks it reauth_required.
func (a *app) checkSandboxState(ctx context.Context) error {
	if !a.scans {
		return nil
	}
	scanner, _ := store.Capability[store.Scanner](a.store)
	for _, p := range a.providers {
		path, fresh := a.sandboxFresh[p.name]
		if p.sandbox == "" || !fresh {
			continue
		}
		loss := sandboxLoss{Title: p.title, Path: path}
		var owners []string
		q := store.Query{Provider: p.name, Status: store.StatusActive, Limit: 1000}
		for {
			page, err := scanner.Scan(ctx, q)
			if err != nil {
				return fmt.Errorf("checking the sandbox %s's connections: %w", p.name, err)
			}
			for _, c := range page.Connections {
				owners = append(owners, c.Owner)
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
		for _, owner := range owners {
			_, err := p.conn.ForceRefresh(ctx, owner)
			switch {
			case errors.Is(err, oauthlink.ErrReauthRequired):
				loss.Reconnect++
			case err != nil:
				a.log.Warn("sandbox check: refresh failed", "provider", p.name, "owner", owner, "error", err)
			}
		}
		if loss.Reconnect > 0 {
			a.log.Warn("sandbox "+p.name+" started without its state file: connections made before need a reconnect",
				"file", path, "reconnect", loss.Reconnect)
			a.sandboxLost = append(a.sandboxLost, loss)
		}
	}
	return nil
}
