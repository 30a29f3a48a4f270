package exampleapp

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestListenTakenPort: when the port is taken (the demo runs), the error
// says how to choose another.
func TestListenTakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	_, err = Listen(taken.Addr().String())
	require.Error(t, err)
	require.Contains(t, err.Error(), "OAUTHLINK_ADDR=127.0.0.1:8081")
	require.Contains(t, err.Error(), taken.Addr().String()+" is taken")

	ln, err := Listen("127.0.0.1:0")
	require.NoError(t, err)
	ln.Close()
}
