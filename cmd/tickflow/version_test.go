package main

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-v"} {
		out, _, msg, code := runCmdCtx(context.Background(), t, arg)
		assert.Equal(t, exitOK, code, msg)
		assert.Contains(t, out, "tickflow ")
		assert.Contains(t, out, "commit ")
		assert.Contains(t, out, runtime.Version())
		assert.Regexp(t, `kfake +v0\.0\.0-\d{14}-[0-9a-f]{12}`, out)
		assert.Regexp(t, `gofakes3 +v\d+\.\d+\.\d+`, out)
	}
}
