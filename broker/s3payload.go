package broker

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The body half of a SigV4 check, done as gofakes3 reads the body:
//
//   - x-amz-content-sha256 is a hex SHA-256: the body must hash to it, else
//     400 XAmzContentSHA256Mismatch.
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] (signed aws-chunked): every
//     chunk's signature is recomputed with the SDK's StreamSigner, chained
//     from the seed signature, else 403 SignatureDoesNotMatch; gofakes3 then
//     reads the decoded content. (The -TRAILER variant's trailer signature is
//     not checked.)
//   - UNSIGNED-PAYLOAD and STREAMING-UNSIGNED-PAYLOAD-TRAILER: nothing to check.
//
// A failure shows only once the body is read, when gofakes3 has already
// failed on the reader's error: its answer is buffered and replaced.

// payloadCheck records the first failure a body reader saw.
type payloadCheck struct {
	mu      sync.Mutex
	failure *authFailure
}

func (c *payloadCheck) fail(f *authFailure) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure == nil {
		c.failure = f
	}
	return errors.New(f.code + ": " + f.message)
}

func (c *payloadCheck) failed() *authFailure {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failure
}

// checkPayload arranges for r's body to be checked against what its
// signature claims. It returns the writer the rest of the request must use
// and finish, which writes the answer out.
func checkPayload(w http.ResponseWriter, r *http.Request, p sigParams, signedAt time.Time, creds aws.Credentials) (http.ResponseWriter, func(), error) {
	sha := r.Header.Get("X-Amz-Content-Sha256")
	if p.presigned || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return w, func() {}, nil
	}
	check := &payloadCheck{}
	switch {
	case isHexSHA256(sha):
		want, _ := hex.DecodeString(sha)
		r.Body = &hashCheckReader{body: r.Body, h: sha256.New(), want: want, left: r.ContentLength, check: check}
	case sha == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" || sha == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER":
		seed, err := hex.DecodeString(p.signature)
		if err != nil {
			return nil, nil, fmt.Errorf("the seed signature %q is not hex", p.signature)
		}
		n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("aws-chunked upload without a valid x-amz-decoded-content-length")
		}
		r.Body = newSignedChunkReader(r.Body, v4.NewStreamSigner(creds, p.service, p.region, seed), signedAt, check)
		r.ContentLength = n
		r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") // decoded here; gofakes3 must not decode again
		enc := strings.Trim(strings.TrimSpace(strings.ReplaceAll(r.Header.Get("Content-Encoding"), "aws-chunked", "")), ", ")
		if enc == "" {
			r.Header.Del("Content-Encoding")
		} else {
			r.Header.Set("Content-Encoding", enc)
		}
	default:
		return w, func() {}, nil
	}
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	finish := func() {
		if f := check.failed(); f != nil {
			writeS3ErrorElems(w, r, f.status, f.code, f.message, f.extra)
			return
		}
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.WriteHeader(buf.status)
		w.Write(buf.body.Bytes())
	}
	return buf, finish, nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// hashCheckReader hashes the body and compares at its end.
type hashCheckReader struct {
	body  io.ReadCloser
	h     hash.Hash
	want  []byte
	left  int64 // bytes still expected (Content-Length), -1 unknown
	done  bool
	check *payloadCheck
}

func (c *hashCheckReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	n, err := c.body.Read(p)
	c.h.Write(p[:n])
	if c.left > 0 {
		c.left -= int64(n)
	}
	if err == io.EOF || (c.left == 0 && n > 0) {
		c.done = true
		if got := c.h.Sum(nil); subtle.ConstantTimeCompare(got, c.want) != 1 {
			// Withhold the last bytes: a reader that got every byte
			// (io.ReadFull) would otherwise ignore the error.
			return 0, c.check.fail(&authFailure{http.StatusBadRequest, "XAmzContentSHA256Mismatch",
				"The provided 'x-amz-content-sha256' header does not match what was computed.",
				[][2]string{{"ClientComputedContentSHA256", hex.EncodeToString(c.want)}, {"S3ComputedContentSHA256", hex.EncodeToString(got)}}})
		}
		if err == nil {
			err = io.EOF
		}
	}
	return n, err
}

func (c *hashCheckReader) Close() error { return c.body.Close() }

// signedChunkReader decodes "hex-size;chunk-signature=SIG\r\n data \r\n"
// chunks, checking each signature, up to the final zero-size chunk (and its
// trailers, if any).
type signedChunkReader struct {
	br     *bufio.Reader
	body   io.Closer
	signer *v4.StreamSigner
	at     time.Time
	check  *payloadCheck
	buf    []byte
	eof    bool
}

func newSignedChunkReader(body io.ReadCloser, signer *v4.StreamSigner, at time.Time, check *payloadCheck) *signedChunkReader {
	return &signedChunkReader{br: bufio.NewReaderSize(body, 64<<10), body: body, signer: signer, at: at, check: check}
}

func (c *signedChunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		if err := c.nextChunk(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

var errChunkFraming = errors.New("aws-chunked: bad framing")

func (c *signedChunkReader) nextChunk() error {
	line, err := c.br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("aws-chunked: %w", io.ErrUnexpectedEOF)
	}
	line = strings.TrimRight(line, "\r\n")
	sizeHex, ext, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
	if err != nil || size < 0 || size > 64<<20 {
		return fmt.Errorf("%w: chunk header %q", errChunkFraming, line)
	}
	sig, ok := strings.CutPrefix(ext, "chunk-signature=")
	if !ok {
		return c.check.fail(&authFailure{http.StatusForbidden, "SignatureDoesNotMatch",
			"an aws-chunked chunk of a signed streaming upload carries no chunk-signature", nil})
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return fmt.Errorf("aws-chunked: %w", io.ErrUnexpectedEOF)
	}
	want, err := c.signer.GetSignature(context.Background(), nil, data, c.at)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(want)), []byte(sig)) != 1 {
		return c.check.fail(&authFailure{http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided (an aws-chunked chunk's signature).",
			[][2]string{{"AWSAccessKeyId", AccessKey}}})
	}
	if size == 0 {
		c.eof = true
		// The CRLF after the final chunk, or trailer lines ending with an empty line.
		for {
			t, err := c.br.ReadString('\n')
			if strings.TrimRight(t, "\r\n") == "" || err != nil {
				break
			}
		}
		return nil
	}
	if crlf, err := c.br.ReadString('\n'); err != nil || strings.TrimRight(crlf, "\r\n") != "" {
		return fmt.Errorf("%w: no CRLF after a chunk's data", errChunkFraming)
	}
	c.buf = data
	return nil
}

func (c *signedChunkReader) Close() error { return c.body.Close() }
