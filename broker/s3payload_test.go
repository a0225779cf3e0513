package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/objstore"
)

// The example of AWS's "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks" (sigv4-streaming): 65 KiB of 'a'
// in chunks of 64 KiB and 1 KiB, with the documented seed and chunk
// signatures.
func TestSignedChunkReaderAWSExample(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	seed, _ := hex.DecodeString("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	at := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	body := func(sig1 string) string {
		return "10000;chunk-signature=" + sig1 + "\r\n" + strings.Repeat("a", 65536) + "\r\n" +
			"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" + strings.Repeat("a", 1024) + "\r\n" +
			"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
	}
	read := func(b string) ([]byte, *payloadCheck, error) {
		check := &payloadCheck{}
		r := newSignedChunkReader(io.NopCloser(strings.NewReader(b)), v4.NewStreamSigner(creds, "s3", "us-east-1", seed), at, check)
		got, err := io.ReadAll(r)
		return got, check, err
	}
	got, check, err := read(body("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"))
	require.NoError(t, err)
	assert.Nil(t, check.failed())
	assert.Equal(t, strings.Repeat("a", 66560), string(got))

	_, check, err = read(body("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288649"))
	assert.Error(t, err)
	require.NotNil(t, check.failed())
	assert.Equal(t, "SignatureDoesNotMatch", check.failed().code)
}

// signedChunked sends body as a signed aws-chunked upload (chunks of size),
// signing with secret; tamper edits the wire bytes before sending.
func signedChunked(t *testing.T, w *World, key, body string, size int, secret string, tamper func([]byte) []byte) *http.Response {
	t.Helper()
	at := time.Now().UTC()
	var chunks []string
	for i := 0; i < len(body); i += size {
		chunks = append(chunks, body[i:min(i+size, len(body))])
	}
	chunks = append(chunks, "")
	var wire int
	for _, c := range chunks {
		wire += len(fmt.Sprintf("%x;chunk-signature=", len(c))) + 64 + 2 + len(c) + 2
	}
	req, err := http.NewRequest(http.MethodPut, w.S3Endpoint()+"/"+w.Bucket()+"/"+key, nil)
	require.NoError(t, err)
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(body)))
	req.ContentLength = int64(wire)
	creds := aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: secret}
	require.NoError(t, clientSigner().SignHTTP(context.Background(), creds, req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", DefaultRegion, at))
	_, seedHex, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	seed, _ := hex.DecodeString(seedHex)
	ss := v4.NewStreamSigner(creds, "s3", DefaultRegion, seed)
	var b bytes.Buffer
	for _, c := range chunks {
		sig, err := ss.GetSignature(context.Background(), nil, []byte(c), at)
		require.NoError(t, err)
		fmt.Fprintf(&b, "%x;chunk-signature=%x\r\n%s\r\n", len(c), sig, c)
	}
	raw := b.Bytes()
	if tamper != nil {
		raw = tamper(raw)
	}
	require.Len(t, raw, wire)
	req.Body = io.NopCloser(bytes.NewReader(raw))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func TestS3SignedStreamingUpload(t *testing.T) {
	w := startWorld(t, Brokers(1))
	ctx := context.Background()
	good := sdkStore(t, w, AccessKey, SecretKey, DefaultRegion)
	body := strings.Repeat("tick,", 5000) // 25,000 bytes in chunks of 8 KiB

	resp := signedChunked(t, w, "chunked/ok", body, 8192, SecretKey, nil)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(msg))
	got, _, err := good.Get(ctx, "chunked/ok")
	require.NoError(t, err)
	assert.Equal(t, body, string(got), "stored decoded, framing stripped")

	// One byte of the second chunk changed in flight: its signature fails.
	resp = signedChunked(t, w, "chunked/tampered", body, 8192, SecretKey, func(b []byte) []byte {
		i := bytes.Index(b, []byte("\r\n")) + 2 + 8192 + 2 // start of chunk 2's header
		j := i + bytes.Index(b[i:], []byte("\r\n")) + 2 + 10
		b[j] ^= 1
		return b
	})
	assert.Equal(t, 403, resp.StatusCode)
	assert.Equal(t, "SignatureDoesNotMatch", readAWSErr(t, resp).Code)
	_, err = good.Head(ctx, "chunked/tampered")
	assert.ErrorIs(t, err, objstore.ErrNotFound, "a refused upload stores nothing")

	// Signed with the wrong secret: the seed signature already fails.
	resp = signedChunked(t, w, "chunked/wrong", body, 8192, "wrong", nil)
	assert.Equal(t, "SignatureDoesNotMatch", readAWSErr(t, resp).Code)
}

func TestS3PayloadHashChecked(t *testing.T) {
	w := startWorld(t, Brokers(1))
	good := sdkStore(t, w, AccessKey, SecretKey, DefaultRegion)
	put := func(body, claimed string) *http.Response {
		req, err := http.NewRequest(http.MethodPut, w.S3Endpoint()+"/"+w.Bucket()+"/hashed", strings.NewReader(body))
		require.NoError(t, err)
		sum := sha256.Sum256([]byte(claimed))
		req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		return signedDo(t, req)
	}
	resp := put("the real body", "another body")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, "XAmzContentSHA256Mismatch", readAWSErr(t, resp).Code)
	_, err := good.Head(context.Background(), "hashed")
	assert.ErrorIs(t, err, objstore.ErrNotFound)

	resp = put("the real body", "the real body")
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}
