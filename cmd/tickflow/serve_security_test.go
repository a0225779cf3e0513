package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve checks S3 signatures by default and says so; --s3-auth off accepts
// unsigned requests and the banner and --json say that instead.
func TestServeS3Auth(t *testing.T) {
	for _, tc := range []struct {
		flag       []string
		wantJSON   string
		wantStatus int
	}{
		{nil, "sigv4", http.StatusForbidden},
		{[]string{"--s3-auth", "off"}, "off", http.StatusOK},
	} {
		t.Run(tc.wantJSON, func(t *testing.T) {
			p := startServe(t, append([]string{"--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--ui", "off"}, tc.flag...)...)
			in := p.info(t)
			assert.Equal(t, tc.wantJSON, in.S3Auth)
			assert.Equal(t, "PLAINTEXT", in.KafkaSecurity)
			resp, err := http.Get(in.S3Endpoint + "/" + in.Bucket + "/")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.wantStatus, resp.StatusCode, "an unsigned listing")
			assert.Equal(t, exitOK, p.stop(t, syscall.SIGTERM))
		})
	}
	var b strings.Builder
	require.NoError(t, serveInfo{S3Auth: "off", KafkaSecurity: "PLAINTEXT"}.writeText(&b))
	assert.Contains(t, b.String(), "--s3-auth off: ANY request is accepted")
	b.Reset()
	require.NoError(t, serveInfo{S3Auth: "sigv4", KafkaSecurity: "PLAINTEXT"}.writeText(&b))
	assert.Contains(t, b.String(), "AWS Signature V4 checked")
}
