package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/dashboard"
)

// TestServeUI: --ui serves the dashboard of the running world, --json
// names it as ui_url, --ui off serves none.
func TestServeUI(t *testing.T) {
	p := startServe(t, "--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--ui", randomAddr)
	in := p.info(t)
	require.True(t, strings.HasPrefix(in.UIURL, "http://127.0.0.1:"), "ui_url %q", in.UIURL)
	resp, err := http.Get(in.UIURL + "api/state")
	require.NoError(t, err)
	defer resp.Body.Close()
	var s dashboard.Snapshot
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	require.NotNil(t, s.World, "the dashboard watches serve's world")
	assert.Len(t, s.World.Brokers, 3)
	assert.Equal(t, in.S3Endpoint, s.World.S3Endpoint)
	m, err := http.Get(in.UIURL + "metrics")
	require.NoError(t, err)
	m.Body.Close()
	assert.Equal(t, http.StatusOK, m.StatusCode)
	assert.Equal(t, exitOK, p.stop(t, syscall.SIGTERM))
	assert.Empty(t, p.stderr.String())

	off := startServe(t, "--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--ui", "off")
	assert.Empty(t, off.info(t).UIURL, "--ui off: no ui_url")
	assert.Equal(t, exitOK, off.stop(t, syscall.SIGTERM))
}

// TestServeUIPrefix: --prefix and --table point the dashboard's Lake panel
// at another folder.
func TestServeUIPrefix(t *testing.T) {
	for _, tc := range []struct {
		args             []string
		prefix, location string
	}{
		{[]string{"--prefix", "warehouse"}, "warehouse/", "warehouse/"},
		{[]string{"--table", "../../testdata/lakes/good-orders/orders.sql"}, "", "orders/"},
		{nil, "", "stock_ticks/"},
	} {
		p := startServe(t, append([]string{"--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--ui", randomAddr}, tc.args...)...)
		in := p.info(t)
		resp, err := http.Get(in.UIURL + "api/state")
		require.NoError(t, err)
		var s dashboard.Snapshot
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
		resp.Body.Close()
		require.NotNil(t, s.World)
		assert.Equal(t, tc.prefix, s.World.Prefix, "%v", tc.args)
		assert.Equal(t, tc.location, s.World.Lake.Location, "%v", tc.args)
		assert.Equal(t, exitOK, p.stop(t, syscall.SIGTERM))
		assert.Empty(t, p.stderr.String())
	}
}

// TestServeUIAddrTaken: a typed --ui whose port is taken is exit 2 naming
// --ui; the default address moving to a free port is not an error.
func TestServeUIAddrTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	ctx, cancel := context.WithTimeout(context.Background(), serveExitTimeout)
	defer cancel()
	cmd := tickflowCommand(ctx, "serve", "--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--ui", taken.Addr().String())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "serve accepted a taken --ui: %v", err)
	assert.Equal(t, exitUsage, ee.ExitCode())
	assert.Contains(t, stderr.String(), "--ui "+taken.Addr().String())
	assert.Empty(t, stdout.String())

	for _, bad := range []string{"nowhere", "example.com:80"} {
		cmd := tickflowCommand(ctx, "serve", "--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--ui", bad)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		require.True(t, errors.As(err, &ee), "serve accepted --ui %s", bad)
		assert.Equal(t, exitUsage, ee.ExitCode())
		assert.Contains(t, stderr.String(), "--ui "+bad)
	}

	// The default address taken (held here, whatever else runs): serve
	// still starts and says where the page is.
	def, err := net.Listen("tcp", dashboard.DefaultAddr)
	if err != nil {
		t.Logf("%s is already taken by something else: %v", dashboard.DefaultAddr, err)
	} else {
		defer def.Close()
	}
	p := startServe(t, "--kafka-addr", randomAddr, "--s3-addr", randomAddr)
	var text strings.Builder
	for {
		l := p.line(t)
		text.WriteString(l + "\n")
		if l == serveReadyLine {
			break
		}
	}
	assert.Contains(t, text.String(), "Dashboard\n  http://127.0.0.1:")
	assert.NotContains(t, text.String(), "http://"+dashboard.DefaultAddr+"/")
	assert.Contains(t, text.String(), dashboard.DefaultAddr+" was in use")
	assert.Equal(t, exitOK, p.stop(t, syscall.SIGTERM))
}
