package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
)

// Helpers shared by the commands that talk to S3 (sink, verify, query).

// s3Target is what those commands know about the S3 they talk to, for
// messages in the CLI's terms.
type s3Target struct {
	endpoint string // --s3-endpoint; empty for real AWS
	bucket   string
	timeout  time.Duration // --s3-timeout
}

// where names the endpoint the way the user gave it.
func (t s3Target) where() string {
	if t.endpoint == "" {
		return "AWS S3"
	}
	return t.endpoint
}

// localCredentials returns the static credentials to use: the given ones, or,
// for an endpoint on this machine (tickflow serve) with no credentials given
// anywhere (flags, AWS_ACCESS_KEY_ID, AWS_PROFILE), the fixed ones serve
// prints, with a note on stderr saying so. Otherwise the SDK's default chain
// would search for an EC2 role and fail after seconds.
func localCredentials(stderr io.Writer, endpoint, accessKey, secretKey string) (string, string) {
	if accessKey != "" || endpoint == "" || !isLoopbackURL(endpoint) ||
		os.Getenv("AWS_ACCESS_KEY_ID") != "" || os.Getenv("AWS_PROFILE") != "" {
		return accessKey, secretKey
	}
	fmt.Fprintf(stderr, "tickflow: no S3 credentials given for the local endpoint %s: using tickflow serve's (%s / %s); --access-key/--secret-key override\n",
		endpoint, broker.AccessKey, broker.SecretKey)
	return broker.AccessKey, broker.SecretKey
}

// isLoopbackURL reports whether u's host is localhost or a loopback IP.
func isLoopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkBucket asks S3 whether the bucket exists before a command spends time
// on it, bounded by the connect/first-byte timeout (the SDK retries twice).
func checkBucket(ctx context.Context, st *objstore.S3, t s3Target) error {
	if err := objstore.ValidBucket(t.bucket); err != nil {
		return usageError("--bucket %s: %v", t.bucket, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 3*t.timeout+time.Second)
	defer cancel()
	if err := st.CheckBucket(cctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s3Error(t, err)
	}
	return nil
}

// s3Error says what went wrong with S3 in the CLI's terms: the flag, the
// value, the fix. Errors it does not recognise pass through.
func s3Error(t s3Target, err error) error {
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return usageError("--bucket %s: no such bucket at %s; create it (aws s3 mb s3://%s) or name an existing one", t.bucket, t.where(), t.bucket)
	case errors.Is(err, syscall.ECONNREFUSED) && t.endpoint != "":
		return usageError("--s3-endpoint %s: connection refused; check that an S3 server listens there (tickflow serve prints its endpoint)", t.endpoint)
	case errors.As(err, new(*net.DNSError)) && t.endpoint != "":
		return usageError("--s3-endpoint %s: unknown host; check the URL", t.endpoint)
	case objstore.IsTimeout(err) && t.endpoint != "":
		return usageError("--s3-endpoint %s: no answer within %s; check that an S3 server listens there (tickflow serve prints its endpoint), or raise --s3-timeout", t.endpoint, t.timeout)
	case objstore.IsTimeout(err):
		return usageError("AWS S3 did not answer within %s; check the network and region, or raise --s3-timeout", t.timeout)
	}
	if code, ok := s3AuthFailure(err); ok {
		hint := "check the keys (--access-key/--secret-key or the AWS credential chain) and --region"
		if t.endpoint != "" && isLoopbackURL(t.endpoint) {
			hint += fmt.Sprintf("; tickflow serve prints its keys (%s / %s) and region %s", broker.AccessKey, broker.SecretKey, broker.DefaultRegion)
		}
		return usageError("S3 at %s refused the credentials (%s): %s", t.where(), code, hint)
	}
	return err
}

// s3AuthFailure recognises S3's answers to bad credentials: the error code
// when there is a body, a bare 403 (or 400 for a wrong region) for HEAD.
func s3AuthFailure(err error) (code string, ok bool) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch c := ae.ErrorCode(); c {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed", "RequestTimeTooSkewed", "InvalidToken", "ExpiredToken":
			return c, true
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden {
		return "403 Forbidden", true
	}
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusBadRequest && re.Response != nil {
		if region := re.Response.Header.Get("X-Amz-Bucket-Region"); region != "" {
			return "wrong region: the bucket is in " + region, true
		}
	}
	return "", false
}

// dirError says what is wrong with --dir in the CLI's terms.
func dirError(dir string, err error) error {
	st, serr := os.Stat(dir)
	switch {
	case errors.Is(serr, os.ErrNotExist):
		return usageError("--dir %s: no such folder; give the folder that holds stock_ticks/ (e.g. the target of aws s3 sync)", dir)
	case serr == nil && !st.IsDir():
		return usageError("--dir %s: not a folder but a file; give the folder that holds stock_ticks/", dir)
	case serr != nil:
		return usageError("--dir %s: %v", dir, unwrapPath(serr))
	}
	return usageError("--dir %s: %v", dir, err)
}
