package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiCode returns the S3 error code of err ("" if none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestS3FaultShareIsSeededAndCounted(t *testing.T) {
	w := startWorld(t, Brokers(1))
	store := newStore(t, w)
	ctx := context.Background()

	run := func(seed int64) []bool {
		f := w.Coordinator().FailS3(S3Fault{Op: "PUT", Status: 503, Share: 0.3, Seed: seed})
		require.NoError(t, f.Err())
		defer f.Remove()
		var failed []bool
		n := 0
		for i := 0; i < 100; i++ {
			err := store.Put(ctx, fmt.Sprintf("k/%d", i), []byte("x"), nil)
			if err != nil {
				assert.Equal(t, "SlowDown", apiCode(err), "unexpected error: %v", err)
				n++
			}
			failed = append(failed, err != nil)
		}
		assert.Equal(t, n, f.Hits())
		assert.Greater(t, n, 10)
		assert.Less(t, n, 60)
		return failed
	}
	a := run(7)
	b := run(7)
	assert.Equal(t, a, b, "the same seed must fail the same requests")

	// Once removed, nothing fails.
	require.NoError(t, store.Put(ctx, "k/after", []byte("x"), nil))
}

func TestS3FaultSelectors(t *testing.T) {
	w := startWorld(t, Brokers(1))
	store := newStore(t, w)
	ctx := context.Background()
	for _, k := range []string{"a/1", "b/1"} {
		require.NoError(t, store.Put(ctx, k, []byte(k), nil))
	}

	tests := []struct {
		name    string
		fault   S3Fault
		call    func() error
		want    string // S3 code, "" for success
		wantHit int
	}{
		{"GET 500 on prefix", S3Fault{Op: "GET", KeyPrefix: "a/", Status: 500}, func() error { _, _, err := store.Get(ctx, "a/1"); return err }, "InternalError", 1},
		{"GET other prefix untouched", S3Fault{Op: "GET", KeyPrefix: "a/", Status: 500}, func() error { _, _, err := store.Get(ctx, "b/1"); return err }, "", 0},
		{"PUT fault leaves GET alone", S3Fault{Op: "PUT", Status: 500}, func() error { _, _, err := store.Get(ctx, "a/1"); return err }, "", 0},
		{"LIST by prefix parameter", S3Fault{Op: "list", KeyPrefix: "a/", Status: 503}, func() error { _, err := store.List(ctx, "a/"); return err }, "SlowDown", 1},
		{"DELETE", S3Fault{Op: "DELETE", Status: 503}, func() error { return store.Delete(ctx, "zzz") }, "SlowDown", 1},
		{"all ops, custom code", S3Fault{Status: 403, Code: "AccessDenied"}, func() error { _, _, err := store.Get(ctx, "b/1"); return err }, "AccessDenied", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := w.Coordinator().FailS3(tt.fault)
			require.NoError(t, f.Err())
			defer f.Remove()
			err := tt.call()
			if tt.want == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Equal(t, tt.want, apiCode(err), "error: %v", err)
			}
			assert.Equal(t, tt.wantHit, f.Hits())
		})
	}
}

func TestS3FaultCountThenRecovers(t *testing.T) {
	w := startWorld(t, Brokers(1))
	store := newStore(t, w)
	ctx := context.Background()
	require.NoError(t, store.Put(ctx, "k", []byte("v"), nil))

	f := w.Coordinator().FailS3(S3Fault{Op: "GET", Status: 500, Count: 2})
	for i := 0; i < 2; i++ {
		_, _, err := store.Get(ctx, "k")
		assert.Equal(t, "InternalError", apiCode(err), "attempt %d: %v", i, err)
	}
	body, _, err := store.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(body))
	assert.Equal(t, 2, f.Hits())
}

func TestS3FaultLatencyAndHang(t *testing.T) {
	w := startWorld(t, Brokers(1))
	store := newStore(t, w)
	ctx := context.Background()
	require.NoError(t, store.Put(ctx, "k", []byte("v"), nil))

	// Latency only: the call succeeds, no sooner than the latency.
	lat := w.Coordinator().FailS3(S3Fault{Op: "HEAD", Latency: 150 * time.Millisecond})
	start := time.Now()
	_, err := store.Head(ctx, "k")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	assert.Equal(t, 1, lat.Hits())
	lat.Remove()

	// Hang: the client gives up; after Remove the same call works.
	hang := w.Coordinator().FailS3(S3Fault{Op: "GET", Hang: true})
	hctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, _, err = store.Get(hctx, "k")
	cancel()
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, hang.Hits())
	hang.Remove()
	_, _, err = store.Get(ctx, "k")
	require.NoError(t, err)

	// A hang in progress is released by Close (goleak checks the rest).
	w.Coordinator().FailS3(S3Fault{Op: "GET", Hang: true})
	errc := make(chan error, 1)
	go func() { _, _, err := store.Get(ctx, "k"); errc <- err }()
	require.Eventually(t, func() bool {
		w.s3.mu.Lock()
		defer w.s3.mu.Unlock()
		return w.s3.inflight == 1
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, w.Close())
	assert.Error(t, <-errc)
}

func TestS3FaultBadFields(t *testing.T) {
	w := startWorld(t, Brokers(1))
	tests := []S3Fault{
		{Op: "COPY", Status: 500},
		{Status: 200},
		{Status: 503, Share: 1.5},
		{Status: 503, Count: -1},
	}
	for _, f := range tests {
		h := w.Coordinator().FailS3(f)
		assert.Error(t, h.Err(), "%+v", f)
		assert.Equal(t, 0, h.Hits())
		h.Remove()
	}
}

func TestS3UnsupportedOperationsAre501(t *testing.T) {
	w := startWorld(t, Brokers(1))
	store := newStore(t, w)
	ctx := context.Background()
	require.NoError(t, store.Put(ctx, "k", []byte("original"), nil))

	_, err := store.Client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(w.Bucket()), Key: aws.String("k"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}},
	})
	require.Error(t, err)
	assert.Equal(t, "NotImplemented", apiCode(err))

	_, err = store.Client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{
		Bucket: aws.String(w.Bucket()), Key: aws.String("k"),
		ObjectAttributes: []s3types.ObjectAttributes{s3types.ObjectAttributesObjectSize},
	})
	require.Error(t, err)
	assert.Equal(t, "NotImplemented", apiCode(err))

	_, err = store.Client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(w.Bucket())})
	assert.Equal(t, "NotImplemented", apiCode(err))

	// The object was not touched.
	body, _, err := store.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "original", string(body))
}

// TestS3AWSChunkedTrailer sends an upload framed the way SDKs do with
// trailing checksums and checks the framing is not stored.
func TestS3AWSChunkedTrailer(t *testing.T) {
	w := startWorld(t, Brokers(1))
	payload := "hello, chunked world"
	var body bytes.Buffer
	fmt.Fprintf(&body, "%x\r\n%s\r\n", 7, payload[:7])
	fmt.Fprintf(&body, "%x\r\n%s\r\n", len(payload)-7, payload[7:])
	body.WriteString("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")

	url := w.S3Endpoint() + "/" + w.Bucket() + "/chunked"
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body.Bytes()))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(payload)))
	req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	resp := signedDo(t, req)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(msg))

	got, _, err := newStore(t, w).Get(context.Background(), "chunked")
	require.NoError(t, err)
	assert.Equal(t, payload, string(got))

	// A malformed frame is refused, not stored.
	req, err = http.NewRequest(http.MethodPut, url+"-bad", strings.NewReader("zz\r\nabc"))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	req.Header.Set("X-Amz-Decoded-Content-Length", "3")
	resp = signedDo(t, req)
	resp.Body.Close()
	assert.GreaterOrEqual(t, resp.StatusCode, 400)
	_, err = newStore(t, w).Head(context.Background(), "chunked-bad")
	assert.Error(t, err)
}

func TestS3FaultMultipartStep(t *testing.T) {
	w := startWorld(t, Brokers(1))
	store := newStore(t, w)
	ctx := context.Background()
	cl := store.Client
	bucket := aws.String(w.Bucket())

	f := w.Coordinator().FailS3(S3Fault{Op: "MULTIPART:PART", Status: 500, Count: 1})
	require.NoError(t, f.Err())
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("mp")})
	require.NoError(t, err, "CreateMultipartUpload is not the faulted step")
	part := bytes.Repeat([]byte("p"), 5<<20)
	upload := func() (*s3.UploadPartOutput, error) {
		return cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(part)})
	}
	_, err = upload()
	require.Error(t, err)
	assert.Equal(t, "InternalError", apiCode(err), "error: %v", err)
	out, err := upload()
	require.NoError(t, err)
	_, err = cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{ETag: out.ETag, PartNumber: aws.Int32(1)}}}})
	require.NoError(t, err)
	obj, err := store.Head(ctx, "mp")
	require.NoError(t, err)
	assert.Equal(t, int64(len(part)), obj.Size)
	assert.Equal(t, 1, f.Hits())
}
