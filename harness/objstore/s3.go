package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config says how to reach a bucket. With Endpoint empty the SDK's default
// chain (environment, shared config, IMDS) and real AWS endpoints are used.
type S3Config struct {
	Endpoint  string // e.g. http://127.0.0.1:9000; empty for real AWS
	Bucket    string
	Region    string // default us-east-1
	AccessKey string // optional static credentials
	SecretKey string
	// MaxAttempts bounds the SDK's own retries per call (default 3). Callers
	// that retry themselves (the sink) may set 1.
	MaxAttempts int
	// Timeout bounds connecting to the endpoint and, once a request is
	// sent, waiting for the first byte of the answer (default
	// DefaultTimeout). An endpoint that accepts connections and never
	// answers fails each attempt after Timeout with an error for which
	// IsTimeout is true, instead of hanging.
	Timeout time.Duration
}

// DefaultTimeout is S3Config.Timeout's default.
const DefaultTimeout = 10 * time.Second

// ErrNoSuchBucket is returned (wrapped) by CheckBucket for a bucket that does
// not exist.
var ErrNoSuchBucket = errors.New("no such bucket")

// IsTimeout reports whether err is a connect or first-byte timeout (see
// S3Config.Timeout), as opposed to an answer from S3.
func IsTimeout(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout awaiting response headers")
}

// S3 is a Store over an S3 bucket.
type S3 struct {
	Client *s3.Client
	Bucket string
}

// NewS3 returns a Store for cfg.Bucket. It does not contact the endpoint.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("objstore: bucket name is empty")
	}
	client, err := NewS3Client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &S3{Client: client, Bucket: cfg.Bucket}, nil
}

// NewS3Client builds an aws-sdk-go-v2 S3 client for cfg: path-style
// addressing when an endpoint is given, static credentials when set.
func NewS3Client(ctx context.Context, cfg S3Config) (*s3.Client, error) {
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = timeout }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = timeout
			tr.TLSHandshakeTimeout = timeout
		})
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithHTTPClient(httpClient),
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("objstore: load AWS config: %w", err)
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// S3-compatible stores (gofakes3, MinIO) often return no checksum;
		// the SDK would log a warning on every GET.
		o.DisableLogOutputChecksumValidationSkipped = true
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
	}), nil
}

func (s *S3) String() string { return "s3://" + s.Bucket }

// CheckBucket asks S3 whether the bucket exists and is reachable with these
// credentials (HeadBucket). A missing bucket gives an error wrapping
// ErrNoSuchBucket; a silent endpoint an error for which IsTimeout is true.
// Bound it with ctx.
func (s *S3) CheckBucket(ctx context.Context) error {
	_, err := s.Client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.Bucket})
	if err == nil {
		return nil
	}
	var nb *s3types.NoSuchBucket
	var nf *s3types.NotFound
	var re *awshttp.ResponseError
	if errors.As(err, &nb) || errors.As(err, &nf) || errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return fmt.Errorf("s3://%s: %w", s.Bucket, ErrNoSuchBucket)
	}
	return fmt.Errorf("head bucket s3://%s: %w", s.Bucket, err)
}

func (s *S3) Put(ctx context.Context, key string, body []byte, meta map[string]string) error {
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.Bucket, Key: &key, Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), Metadata: meta,
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.Bucket, key, err)
	}
	return nil
}

// conflictRetries bounds how often PutIfAbsent retries a 409
// ConditionalRequestConflict (another write to the same key was in progress;
// AWS asks the caller to retry). The retry then sees 412 or succeeds.
const conflictRetries = 5

func (s *S3) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.Bucket, Key: &key, Body: bytes.NewReader(body),
			ContentLength: aws.Int64(int64(len(body))), Metadata: meta,
			IfNoneMatch: aws.String("*"),
		})
		if err == nil {
			return nil
		}
		code := apiErrorCode(err)
		switch {
		case code == "PreconditionFailed" || httpStatus(err) == http.StatusPreconditionFailed:
			return fmt.Errorf("put-if-absent s3://%s/%s: %w (%v)", s.Bucket, key, ErrPreconditionFailed, err)
		case (code == "ConditionalRequestConflict" || httpStatus(err) == http.StatusConflict) && attempt < conflictRetries:
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("put-if-absent s3://%s/%s: %w (after %v)", s.Bucket, key, ctx.Err(), err)
			case <-t.C:
			}
			backoff *= 2
			continue
		}
		return fmt.Errorf("put-if-absent s3://%s/%s: %w", s.Bucket, key, err)
	}
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func (s *S3) Get(ctx context.Context, key string) ([]byte, Object, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return nil, Object{}, fmt.Errorf("get s3://%s/%s: %w", s.Bucket, key, mapNotFound(err))
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, Object{}, fmt.Errorf("get s3://%s/%s: read body: %w", s.Bucket, key, err)
	}
	return b, Object{Key: key, Size: int64(len(b)), Metadata: lowerKeys(out.Metadata), ETag: aws.ToString(out.ETag)}, nil
}

func (s *S3) Head(ctx context.Context, key string) (Object, error) {
	out, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return Object{}, fmt.Errorf("head s3://%s/%s: %w", s.Bucket, key, mapNotFound(err))
	}
	return Object{Key: key, Size: aws.ToInt64(out.ContentLength), Metadata: lowerKeys(out.Metadata), ETag: aws.ToString(out.ETag)}, nil
}

func (s *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	seen := map[string]bool{}
	var objs []Object
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", s.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if seen[k] { // some fakes repeat a boundary key across pages
				continue
			}
			seen[k] = true
			objs = append(objs, Object{Key: k, Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag)})
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	_, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil && !errors.Is(mapNotFound(err), ErrNotFound) {
		return fmt.Errorf("delete s3://%s/%s: %w", s.Bucket, key, err)
	}
	return nil
}

// DeleteIfMatch sends DeleteObject with If-Match: etag. A 412 is
// ErrPreconditionFailed; a 404 (the key is gone) is success; a 409
// ConditionalRequestConflict (another write to the key in progress) is
// retried like PutIfAbsent's.
func (s *S3) DeleteIfMatch(ctx context.Context, key, etag string) error {
	if etag == "" {
		return fmt.Errorf("delete-if-match s3://%s/%s: no ETag given", s.Bucket, key)
	}
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: &key, IfMatch: aws.String(etag)})
		if err == nil || errors.Is(mapNotFound(err), ErrNotFound) {
			return nil
		}
		code := apiErrorCode(err)
		switch {
		case code == "PreconditionFailed" || httpStatus(err) == http.StatusPreconditionFailed:
			return fmt.Errorf("delete-if-match s3://%s/%s: %w (%v)", s.Bucket, key, ErrPreconditionFailed, err)
		case (code == "ConditionalRequestConflict" || httpStatus(err) == http.StatusConflict) && attempt < conflictRetries:
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("delete-if-match s3://%s/%s: %w (after %v)", s.Bucket, key, ctx.Err(), err)
			case <-t.C:
			}
			backoff *= 2
			continue
		}
		return fmt.Errorf("delete-if-match s3://%s/%s: %w", s.Bucket, key, err)
	}
}

func mapNotFound(err error) error {
	var nsk *s3types.NoSuchKey
	var nf *s3types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucket" {
			return fmt.Errorf("%w: %v", ErrNotFound, err)
		}
	}
	return err
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
