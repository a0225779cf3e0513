package broker

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/objstore"
)

// condClient returns the world's SDK client and a helper that reads a key.
func condClient(t *testing.T, w *World) (*s3.Client, func(key string) string) {
	t.Helper()
	cl := newStore(t, w).Client
	get := func(key string) string {
		out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(w.Bucket()), Key: &key})
		require.NoError(t, err)
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		require.NoError(t, err)
		return string(b)
	}
	return cl, get
}

func putObj(ctx context.Context, cl *s3.Client, bucket, key, body string, edit func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(body)}
	if edit != nil {
		edit(in)
	}
	return cl.PutObject(ctx, in)
}

// multipart uploads body as a two-part upload (5 MiB minimum part size is not
// enforced by the fake) and completes it with edit applied.
func multipart(ctx context.Context, cl *s3.Client, bucket, key, body string, edit func(*s3.CompleteMultipartUploadInput)) (*s3.CompleteMultipartUploadOutput, error) {
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	half := len(body) / 2
	var parts []s3types.CompletedPart
	for i, chunk := range []string{body[:half], body[half:]} {
		n := int32(i + 1)
		p, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: &n, Body: strings.NewReader(chunk)})
		if err != nil {
			return nil, err
		}
		parts = append(parts, s3types.CompletedPart{ETag: p.ETag, PartNumber: &n})
	}
	in := &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}}
	if edit != nil {
		edit(in)
	}
	return cl.CompleteMultipartUpload(ctx, in)
}

func TestS3ConditionalWrites(t *testing.T) {
	w := startWorld(t, Brokers(1))
	cl, get := condClient(t, w)
	ctx := context.Background()
	b := w.Bucket()
	ifNone := func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }

	t.Run("PutObject If-None-Match", func(t *testing.T) {
		_, err := putObj(ctx, cl, b, "p/new", "first", ifNone)
		require.NoError(t, err)
		_, err = putObj(ctx, cl, b, "p/new", "second", ifNone)
		assert.Equal(t, "PreconditionFailed", apiCode(err), "%v", err)
		assert.Equal(t, "first", get("p/new"), "a failed conditional write must not change the object")
	})
	t.Run("PutObject If-Match", func(t *testing.T) {
		out, err := putObj(ctx, cl, b, "p/m", "v1", nil)
		require.NoError(t, err)
		_, err = putObj(ctx, cl, b, "p/m", "v2", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(`"0123"`) })
		assert.Equal(t, "PreconditionFailed", apiCode(err), "%v", err)
		_, err = putObj(ctx, cl, b, "p/m", "v2", func(in *s3.PutObjectInput) { in.IfMatch = out.ETag })
		require.NoError(t, err)
		assert.Equal(t, "v2", get("p/m"))
		_, err = putObj(ctx, cl, b, "p/m", "v3", func(in *s3.PutObjectInput) { in.IfMatch = out.ETag })
		assert.Equal(t, "PreconditionFailed", apiCode(err), "the ETag changed with v2: %v", err)
		_, err = putObj(ctx, cl, b, "p/missing", "x", func(in *s3.PutObjectInput) { in.IfMatch = out.ETag })
		assert.Equal(t, "NoSuchKey", apiCode(err), "If-Match on a missing key: %v", err)
	})
	t.Run("If-None-Match other than * is NotImplemented", func(t *testing.T) {
		out, err := putObj(ctx, cl, b, "p/e", "v1", nil)
		require.NoError(t, err)
		for _, v := range []string{*out.ETag, `"abc"`, "W/*"} {
			_, err = putObj(ctx, cl, b, "p/e", "v2", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String(v) })
			assert.Equal(t, "NotImplemented", apiCode(err), "If-None-Match: %s: %v", v, err)
		}
		_, err = putObj(ctx, cl, b, "p/e", "v2", func(in *s3.PutObjectInput) {
			in.IfNoneMatch = aws.String("*")
			in.IfMatch = out.ETag
		})
		assert.Equal(t, "NotImplemented", apiCode(err), "both headers: %v", err)
		assert.Equal(t, "v1", get("p/e"))
	})
	t.Run("CompleteMultipartUpload", func(t *testing.T) {
		out, err := multipart(ctx, cl, b, "m/a", "hello multipart", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") })
		require.NoError(t, err)
		assert.Equal(t, "hello multipart", get("m/a"))
		_, err = multipart(ctx, cl, b, "m/a", "second upload!!", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") })
		assert.Equal(t, "PreconditionFailed", apiCode(err), "%v", err)
		assert.Equal(t, "hello multipart", get("m/a"))

		// The ETag the completion returned is the object's ETag: If-Match works with it.
		head, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("m/a")})
		require.NoError(t, err)
		assert.Equal(t, aws.ToString(head.ETag), aws.ToString(out.ETag))
		_, err = multipart(ctx, cl, b, "m/a", "wrong etag now", func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = aws.String(`"ffff"`) })
		assert.Equal(t, "PreconditionFailed", apiCode(err), "%v", err)
		_, err = multipart(ctx, cl, b, "m/a", "right etag now", func(in *s3.CompleteMultipartUploadInput) { in.IfMatch = out.ETag })
		require.NoError(t, err)
		assert.Equal(t, "right etag now", get("m/a"))
		_, err = multipart(ctx, cl, b, "m/a", "etag is stale", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String(`"x"`) })
		assert.Equal(t, "NotImplemented", apiCode(err), "%v", err)
	})
	t.Run("DeleteObject If-Match", func(t *testing.T) {
		exists := func(key string) bool {
			_, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &key})
			return err == nil
		}
		out, err := putObj(ctx, cl, b, "d/a", "v1", nil)
		require.NoError(t, err)
		_, err = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("d/a"), IfMatch: aws.String(`"0123"`)})
		assert.Equal(t, "PreconditionFailed", apiCode(err), "%v", err)
		assert.Equal(t, "v1", get("d/a"), "a failed conditional delete must not delete")
		_, err = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("d/a"), IfMatch: out.ETag})
		require.NoError(t, err)
		assert.False(t, exists("d/a"))
		_, err = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("d/a"), IfMatch: out.ETag})
		assert.Equal(t, "NoSuchKey", apiCode(err), "If-Match on a missing key: %v", err)

		// A newer object under the key: the ETag the delete was meant for no longer matches.
		_, err = putObj(ctx, cl, b, "d/b", "old", nil)
		require.NoError(t, err)
		st := newStore(t, w)
		listed, err := st.List(ctx, "d/b")
		require.NoError(t, err)
		require.Len(t, listed, 1)
		head, err := st.Head(ctx, "d/b")
		require.NoError(t, err)
		assert.Equal(t, head.ETag, listed[0].ETag, "List and Head report the same ETag")
		_, err = putObj(ctx, cl, b, "d/b", "newer", nil)
		require.NoError(t, err)
		assert.ErrorIs(t, st.DeleteIfMatch(ctx, "d/b", listed[0].ETag), objstore.ErrPreconditionFailed)
		assert.Equal(t, "newer", get("d/b"))
		head, err = st.Head(ctx, "d/b")
		require.NoError(t, err)
		require.NoError(t, st.DeleteIfMatch(ctx, "d/b", head.ETag))
		assert.False(t, exists("d/b"))
		require.NoError(t, st.DeleteIfMatch(ctx, "d/b", head.ETag), "a missing key is not an error")

		// If-None-Match is no DeleteObject condition: ignored, as before.
		_, err = putObj(ctx, cl, b, "d/c", "x", nil)
		require.NoError(t, err)
		_, err = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("d/c")}, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("If-None-Match", "*"))
		})
		require.NoError(t, err)
		assert.False(t, exists("d/c"))
	})
	t.Run("CopyObject", func(t *testing.T) {
		_, err := putObj(ctx, cl, b, "c/src", "source", nil)
		require.NoError(t, err)
		dst, err := putObj(ctx, cl, b, "c/dst", "dest", nil)
		require.NoError(t, err)
		cp := func(key string, edit func(*s3.CopyObjectInput)) error {
			in := &s3.CopyObjectInput{Bucket: &b, Key: &key, CopySource: aws.String(b + "/c/src")}
			edit(in)
			_, err := cl.CopyObject(ctx, in)
			return err
		}
		err = cp("c/dst", func(in *s3.CopyObjectInput) { in.IfNoneMatch = aws.String("*") })
		assert.Equal(t, "PreconditionFailed", apiCode(err), "%v", err)
		assert.Equal(t, "dest", get("c/dst"))
		require.NoError(t, cp("c/new", func(in *s3.CopyObjectInput) { in.IfNoneMatch = aws.String("*") }))
		assert.Equal(t, "source", get("c/new"))
		err = cp("c/dst", func(in *s3.CopyObjectInput) { in.IfMatch = aws.String(`"beef"`) })
		assert.Equal(t, "PreconditionFailed", apiCode(err), "%v", err)
		require.NoError(t, cp("c/dst", func(in *s3.CopyObjectInput) { in.IfMatch = dst.ETag }))
		assert.Equal(t, "source", get("c/dst"))
	})
}

// The error bodies are AWS's: code, message and the failing condition.
func TestS3ConditionalErrorXML(t *testing.T) {
	w := startWorld(t, Brokers(1))
	cl, _ := condClient(t, w)
	ctx := context.Background()
	_, err := putObj(ctx, cl, w.Bucket(), "x", "1", nil)
	require.NoError(t, err)
	type awsError struct {
		Code, Message, Condition, Header, RequestId string
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		want    awsError
	}{
		{"exists", map[string]string{"If-None-Match": "*"}, 412, awsError{Code: "PreconditionFailed", Condition: "If-None-Match"}},
		{"etag differs", map[string]string{"If-Match": `"00"`}, 412, awsError{Code: "PreconditionFailed", Condition: "If-Match"}},
		{"etag in If-None-Match", map[string]string{"If-None-Match": `"00"`}, 501, awsError{Code: "NotImplemented", Header: "If-None-Match"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPut, w.S3Endpoint()+"/"+w.Bucket()+"/x", strings.NewReader("2"))
			require.NoError(t, err)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp := signedDo(t, req)
			defer resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			var got awsError
			require.NoError(t, xml.NewDecoder(resp.Body).Decode(&got))
			assert.Equal(t, tc.want.Code, got.Code)
			assert.Equal(t, tc.want.Condition, got.Condition)
			assert.Equal(t, tc.want.Header, got.Header)
			assert.NotEmpty(t, got.Message)
			assert.NotEmpty(t, got.RequestId)
		})
	}
}

// A conditional write to a key another write holds is 409
// ConditionalRequestConflict; an unconditional one waits its turn.
func TestS3ConditionalConflict(t *testing.T) {
	w := startWorld(t, Brokers(1))
	cl, get := condClient(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a wrong wait fails, never hangs
	defer cancel()
	b := w.Bucket()

	unlock, ok := w.s3.locks.lock(ctx, b+"/k", true) // a write in progress on k
	require.True(t, ok)
	_, err := putObj(ctx, cl, b, "k", "cond", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	assert.Equal(t, "ConditionalRequestConflict", apiCode(err), "%v", err)
	_, err = multipart(ctx, cl, b, "k", "multipart", func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") })
	assert.Equal(t, "ConditionalRequestConflict", apiCode(err), "%v", err)
	_, err = putObj(ctx, cl, b, "other", "x", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	assert.NoError(t, err, "other keys are not locked")

	done := make(chan error, 1)
	go func() { _, err := putObj(ctx, cl, b, "k", "plain", nil); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("an unconditional write must wait for the key's lock, got %v", err)
	default:
	}
	unlock()
	require.NoError(t, <-done)
	assert.Equal(t, "plain", get("k"))
}

// Racing conditional writers: exactly one wins, every other one gets 412 or
// 409 and nothing else, and the object holds the winner's bytes.
func TestS3ConditionalRace(t *testing.T) {
	w := startWorld(t, Brokers(1))
	cl, get := condClient(t, w)
	ctx := context.Background()
	b := w.Bucket()
	for _, mode := range []string{"put", "multipart", "mixed"} {
		t.Run(mode, func(t *testing.T) {
			key := "race/" + mode
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := fmt.Sprintf("writer-%02d-%s", i, strings.Repeat("x", 64))
					if mode == "put" || mode == "mixed" && i%2 == 0 {
						_, errs[i] = putObj(ctx, cl, b, key, body, func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
					} else {
						_, errs[i] = multipart(ctx, cl, b, key, body, func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") })
					}
				}()
			}
			wg.Wait()
			winners := 0
			winner := -1
			for i, err := range errs {
				switch code := apiCode(err); {
				case err == nil:
					winners++
					winner = i
				case code == "PreconditionFailed" || code == "ConditionalRequestConflict":
				default:
					t.Errorf("writer %d: unexpected error %v", i, err)
				}
			}
			require.Equal(t, 1, winners, "exactly one conditional writer wins: %v", errs)
			assert.True(t, strings.HasPrefix(get(key), fmt.Sprintf("writer-%02d-", winner)))
		})
	}
}

func TestEtagMatches(t *testing.T) {
	h := "9a0364b9e99bb480dd25e1f0284c8555"
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{`"` + h + `"`, true},
		{h, true},
		{`"00", "` + h + `"`, true},
		{"*", true},
		{`"00"`, false},
		{"", false},
	} {
		assert.Equal(t, tc.want, etagMatches(tc.header, h), tc.header)
	}
}
