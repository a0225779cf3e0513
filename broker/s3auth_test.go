package broker

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/objstore"
)

// clientSigner signs the way S3 clients do (the path as sent). A new one
// each time: the SDK caches derived keys by access key, not by secret, so
// one signer would reuse a wrong secret's key.
func clientSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// signedDo signs req with the world's keys (UNSIGNED-PAYLOAD unless the
// request already says otherwise) and sends it.
func signedDo(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	return signedDoWith(t, req, AccessKey, SecretKey, DefaultRegion, time.Now())
}

func signedDoWith(t *testing.T, req *http.Request, ak, sk, region string, at time.Time) *http.Response {
	t.Helper()
	payload := req.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
		req.Header.Set("X-Amz-Content-Sha256", payload)
	}
	require.NoError(t, clientSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
		req, payload, "s3", region, at))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

type awsErr struct {
	Code, Message, AWSAccessKeyId, Region, RequestTime, ServerTime, MaxAllowedSkewMilliseconds string
}

func readAWSErr(t *testing.T, resp *http.Response) awsErr {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var e awsErr
	require.NoError(t, xml.Unmarshal(b, &e), "body: %s", b)
	return e
}

func sdkStore(t *testing.T, w *World, ak, sk, region string) *objstore.S3 {
	t.Helper()
	s, err := objstore.NewS3(context.Background(), objstore.S3Config{
		Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: region, AccessKey: ak, SecretKey: sk, MaxAttempts: 1})
	require.NoError(t, err)
	return s
}

func TestS3AuthSDK(t *testing.T) {
	w := startWorld(t, Brokers(1))
	ctx := context.Background()
	good := sdkStore(t, w, AccessKey, SecretKey, DefaultRegion)
	require.NoError(t, good.Put(ctx, "a/key with spaces+plus&amp=.txt", []byte("v"), map[string]string{"x": "y"}))
	objs, err := good.List(ctx, "a/")
	require.NoError(t, err)
	require.Len(t, objs, 1)
	_, _, err = good.Get(ctx, "a/key with spaces+plus&amp=.txt")
	require.NoError(t, err)

	for _, tc := range []struct {
		name, ak, sk, region, code string
	}{
		{"wrong access key", "someone-else", SecretKey, DefaultRegion, "InvalidAccessKeyId"},
		{"wrong secret", AccessKey, "not-the-secret", DefaultRegion, "SignatureDoesNotMatch"},
		{"wrong region", AccessKey, SecretKey, "eu-west-1", "AuthorizationHeaderMalformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := sdkStore(t, w, tc.ak, tc.sk, tc.region)
			err := st.Put(ctx, "a/denied", []byte("v"), nil)
			assert.Equal(t, tc.code, apiCode(err), "%v", err)
			_, _, err = st.Get(ctx, "a/key with spaces+plus&amp=.txt")
			assert.Equal(t, tc.code, apiCode(err), "%v", err)
		})
	}
	_, err = good.Head(ctx, "a/denied")
	assert.ErrorIs(t, err, objstore.ErrNotFound, "refused writes stored nothing")
}

func TestS3AuthErrorsXML(t *testing.T) {
	w := startWorld(t, Brokers(1))
	url := w.S3Endpoint() + "/" + w.Bucket() + "/x"
	put := func() *http.Request {
		req, err := http.NewRequest(http.MethodPut, url, strings.NewReader("body"))
		require.NoError(t, err)
		return req
	}

	resp := signedDoWith(t, put(), "nobody", SecretKey, DefaultRegion, time.Now())
	assert.Equal(t, 403, resp.StatusCode)
	e := readAWSErr(t, resp)
	assert.Equal(t, "InvalidAccessKeyId", e.Code)
	assert.Equal(t, "nobody", e.AWSAccessKeyId)

	resp = signedDoWith(t, put(), AccessKey, "wrong", DefaultRegion, time.Now())
	assert.Equal(t, 403, resp.StatusCode)
	assert.Equal(t, "SignatureDoesNotMatch", readAWSErr(t, resp).Code)

	resp = signedDoWith(t, put(), AccessKey, SecretKey, DefaultRegion, time.Now().Add(-20*time.Minute))
	assert.Equal(t, 403, resp.StatusCode)
	e = readAWSErr(t, resp)
	assert.Equal(t, "RequestTimeTooSkewed", e.Code)
	assert.Equal(t, "900000", e.MaxAllowedSkewMilliseconds)
	assert.NotEmpty(t, e.RequestTime)
	assert.NotEmpty(t, e.ServerTime)

	resp = signedDoWith(t, put(), AccessKey, SecretKey, "ap-south-1", time.Now())
	assert.Equal(t, 400, resp.StatusCode)
	e = readAWSErr(t, resp)
	assert.Equal(t, "AuthorizationHeaderMalformed", e.Code)
	assert.Equal(t, DefaultRegion, e.Region)

	resp, err := http.DefaultClient.Do(put())
	require.NoError(t, err)
	assert.Equal(t, 403, resp.StatusCode)
	assert.Equal(t, "AccessDenied", readAWSErr(t, resp).Code, "an unsigned request")

	// A signed request whose signed header was changed on the way.
	req := put()
	req.Header.Set("Content-Type", "text/plain")
	require.NoError(t, clientSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey},
		req, "UNSIGNED-PAYLOAD", "s3", DefaultRegion, time.Now()))
	req.Header.Set("Content-Type", "application/evil")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	assert.Equal(t, "SignatureDoesNotMatch", readAWSErr(t, resp).Code)

	resp = signedDo(t, put())
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, "the right keys work: %s", b)
}

// Presigned URLs made by the SDK's presigner work for GET and PUT, and are
// refused once expired or when tampered with.
func TestS3AuthPresigned(t *testing.T) {
	w := startWorld(t, Brokers(1))
	ctx := context.Background()
	good := sdkStore(t, w, AccessKey, SecretKey, DefaultRegion)
	require.NoError(t, good.Put(ctx, "p/file.txt", []byte("presigned content"), nil))

	presign := func(sk string, expires time.Duration) *s3.PresignClient {
		cfg := aws.Config{Region: DefaultRegion, Credentials: credentials.NewStaticCredentialsProvider(AccessKey, sk, "")}
		return s3.NewPresignClient(s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint = aws.String(w.S3Endpoint())
			o.UsePathStyle = true
		}), s3.WithPresignExpires(expires))
	}
	get, err := presign(SecretKey, time.Minute).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(w.Bucket()), Key: aws.String("p/file.txt")})
	require.NoError(t, err)
	resp, err := http.Get(get.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(b))
	assert.Equal(t, "presigned content", string(b))

	put, err := presign(SecretKey, time.Minute).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(w.Bucket()), Key: aws.String("p/up.txt")})
	require.NoError(t, err)
	req, err := http.NewRequest(put.Method, put.URL, strings.NewReader("uploaded"))
	require.NoError(t, err)
	for k, v := range put.SignedHeader {
		req.Header[k] = v
	}
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(b))
	got, _, err := good.Get(ctx, "p/up.txt")
	require.NoError(t, err)
	assert.Equal(t, "uploaded", string(got))

	bad, err := presign("wrong-secret", time.Minute).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(w.Bucket()), Key: aws.String("p/file.txt")})
	require.NoError(t, err)
	resp, err = http.Get(bad.URL)
	require.NoError(t, err)
	assert.Equal(t, "SignatureDoesNotMatch", readAWSErr(t, resp).Code)

	// The URL of another key with the same signature.
	u, err := url.Parse(get.URL)
	require.NoError(t, err)
	u.Path = "/" + w.Bucket() + "/p/up.txt"
	resp, err = http.Get(u.String())
	require.NoError(t, err)
	assert.Equal(t, "SignatureDoesNotMatch", readAWSErr(t, resp).Code)

	// Expired: signed 10 minutes ago for 1 second (checked against the
	// server's clock, so no waiting).
	old := presign(SecretKey, time.Second)
	exp, err := old.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(w.Bucket()), Key: aws.String("p/file.txt")},
		func(o *s3.PresignOptions) {
			o.Presigner = timeShifted{o.Presigner, -10 * time.Minute}
		})
	require.NoError(t, err)
	resp, err = http.Get(exp.URL)
	require.NoError(t, err)
	e := readAWSErr(t, resp)
	assert.Equal(t, "AccessDenied", e.Code)
	assert.Equal(t, "Request has expired", e.Message)
}

// timeShifted presigns as if the clock were off by d.
type timeShifted struct {
	s3.HTTPPresignerV4
	d time.Duration
}

func (p timeShifted) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, at time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.HTTPPresignerV4.PresignHTTP(ctx, creds, r, payloadHash, service, region, at.Add(p.d), optFns...)
}

func TestS3AuthOff(t *testing.T) {
	w := startWorld(t, Brokers(1), S3Auth(false))
	st := sdkStore(t, w, "anyone", "anything", "eu-west-1")
	require.NoError(t, st.Put(context.Background(), "k", []byte("v"), nil))
	req, err := http.NewRequest(http.MethodGet, w.S3Endpoint()+"/"+w.Bucket()+"/k", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, "an unsigned request is served with S3Auth(false)")
}
