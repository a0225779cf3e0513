// Package testnet holds network fakes that tests of several packages share.
//
//	url := testnet.SilentEndpoint(t) // accepts, reads, never answers
package testnet

import (
	"io"
	"net"
	"sync"
	"testing"
)

// SilentEndpoint returns the URL of a loopback listener that accepts
// connections, reads what is sent and never answers — an endpoint that
// hangs every client without a timeout. It stops with t.Cleanup.
func SilentEndpoint(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnet: listen: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}
