package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
)

// The module's go.sum lacks github.com/jackc/puddle/v2, which pgx v5.12's
// stdlib package needs (it imports pgxpool), so these tests cannot import
// github.com/jackc/pgx/v5/stdlib. pgxConnector is the smallest
// database/sql driver over a real pgx.Conn that the store's queries need:
// the server, the wire protocol and the encoding are pgx's and PostgreSQL's,
// only the database/sql glue is ours. Once go.sum has puddle, openPostgres
// can use sql.Open("pgx", url) instead and this file can go.
type pgxConnector struct{ url string }

func (c pgxConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		return nil, err
	}
	return &pgxConn{conn: conn}, nil
}

func (c pgxConnector) Driver() driver.Driver { return pgxDriver{} }

type pgxDriver struct{}

func (pgxDriver) Open(name string) (driver.Conn, error) {
	return pgxConnector{name}.Connect(context.Background())
}

type pgxConn struct{ conn *pgx.Conn }

var (
	_ driver.ExecerContext     = (*pgxConn)(nil)
	_ driver.QueryerContext    = (*pgxConn)(nil)
	_ driver.Pinger            = (*pgxConn)(nil)
	_ driver.SessionResetter   = (*pgxConn)(nil)
	_ driver.Validator         = (*pgxConn)(nil)
	_ driver.NamedValueChecker = (*pgxConn)(nil)
)

func (c *pgxConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("pgx test driver: Prepare is not supported")
}

func (c *pgxConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.conn.Close(ctx)
}

func (c *pgxConn) Begin() (driver.Tx, error) {
	return nil, errors.New("pgx test driver: Begin is not supported")
}

func (c *pgxConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *pgxConn) Ping(ctx context.Context) error { return c.conn.Ping(ctx) }

// ResetSession refuses a connection left inside a transaction, as pgx's
// stdlib driver does.
func (c *pgxConn) ResetSession(context.Context) error {
	if c.conn.IsClosed() || c.conn.PgConn().TxStatus() != 'I' {
		return driver.ErrBadConn
	}
	return nil
}

func (c *pgxConn) IsValid() bool { return !c.conn.IsClosed() }

func args(named []driver.NamedValue) []any {
	out := make([]any, len(named))
	for i, v := range named {
		out[i] = v.Value
	}
	return out
}

func (c *pgxConn) ExecContext(ctx context.Context, query string, named []driver.NamedValue) (driver.Result, error) {
	tag, err := c.conn.Exec(ctx, query, args(named)...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pgxConn) QueryContext(ctx context.Context, query string, named []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.conn.Query(ctx, query, args(named)...)
	if err != nil {
		return nil, err
	}
	return &pgxRows{rows: rows}, nil
}

type pgxRows struct{ rows pgx.Rows }

func (r *pgxRows) Columns() []string {
	fds := r.rows.FieldDescriptions()
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = fd.Name
	}
	return names
}

func (r *pgxRows) Close() error {
	r.rows.Close()
	return r.rows.Err()
}

func (r *pgxRows) Next(dest []driver.Value) error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.rows.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		switch v := v.(type) {
		case nil, []byte, string, int64, float64, bool, time.Time:
			dest[i] = v
		case int32:
			dest[i] = int64(v)
		case int16:
			dest[i] = int64(v)
		default:
			return fmt.Errorf("pgx test driver: unsupported column type %T", v)
		}
	}
	return nil
}

// openPgx opens a pool over pgxConnector.
func openPgx(url string) *sql.DB { return sql.OpenDB(pgxConnector{url}) }
