package broker

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWS Signature Version 4 checks, as S3 does them, against the world's one
// key pair (AccessKey/SecretKey) and region. The signature is recomputed with
// the AWS SDK's own signer over exactly the headers the client says it
// signed, so what passes here passes on AWS and the reverse. Both forms are
// checked: the Authorization header and presigned URLs (X-Amz-* query
// parameters). The body is checked against the payload hash the signature
// covers as it is read (s3payload.go).

// maxSkew is how far a request's X-Amz-Date may be from the server's clock
// (AWS: 15 minutes).
const maxSkew = 15 * time.Minute

// authFailure is a refused request: the S3 error to answer with.
type authFailure struct {
	status  int
	code    string
	message string
	extra   [][2]string // further elements of AWS's <Error>, in order
}

// sigParams is what a client's signature claims.
type sigParams struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
	amzDate                          string
	expires                          time.Duration // presigned only
	presigned                        bool
}

// authorize checks r's signature. It answers and returns false when r is
// refused.
// On success the body is checked too, as it is read (s3payload.go): w is
// then a buffer that finish writes out, or replaces with the payload error.
func (s *s3Server) authorize(w http.ResponseWriter, r *http.Request) (_ http.ResponseWriter, finish func(), ok bool) {
	if !s.auth {
		return w, func() {}, true
	}
	p, signedAt, f := s.checkSignature(r, time.Now())
	if f != nil {
		if len(f.extra) > 0 && f.extra[0][0] == "Region" {
			w.Header().Set("x-amz-bucket-region", DefaultRegion) // AWS says it on HEAD too, which has no body
		}
		writeS3ErrorElems(w, r, f.status, f.code, f.message, f.extra)
		s.log.Debug("broker: S3 request refused", "method", r.Method, "path", r.URL.Path, "code", f.code, "why", f.message)
		return w, nil, false
	}
	bw, finish, err := checkPayload(w, r, p, signedAt, aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey})
	if err != nil {
		writeS3Error(w, r, http.StatusBadRequest, "InvalidRequest", err.Error())
		return w, nil, false
	}
	return bw, finish, true
}

func (s *s3Server) checkSignature(r *http.Request, now time.Time) (sigParams, time.Time, *authFailure) {
	p, f := parseSignature(r)
	if f != nil {
		return p, time.Time{}, f
	}
	signedAt, f := verifySignature(r, p, now)
	return p, signedAt, f
}

func verifySignature(r *http.Request, p sigParams, now time.Time) (time.Time, *authFailure) {
	if p.accessKey != AccessKey {
		return time.Time{}, &authFailure{http.StatusForbidden, "InvalidAccessKeyId",
			"The AWS Access Key Id you provided does not exist in our records.",
			[][2]string{{"AWSAccessKeyId", p.accessKey}}}
	}
	if p.service != "s3" {
		return time.Time{}, malformed(p, fmt.Sprintf("the service '%s' is wrong; expecting 's3'", p.service))
	}
	if p.region != DefaultRegion {
		return time.Time{}, &authFailure{http.StatusBadRequest, "AuthorizationHeaderMalformed",
			fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", p.region, DefaultRegion),
			[][2]string{{"Region", DefaultRegion}}}
	}
	signedAt, err := time.Parse("20060102T150405Z", p.amzDate)
	if err != nil {
		return time.Time{}, &authFailure{http.StatusForbidden, "AccessDenied",
			fmt.Sprintf("AWS authentication requires a valid Date or x-amz-date header (got %q)", p.amzDate), nil}
	}
	if p.date != signedAt.Format("20060102") {
		return time.Time{}, malformed(p, fmt.Sprintf("the date in the credential scope '%s' does not match X-Amz-Date '%s'", p.date, p.amzDate))
	}
	if p.presigned {
		if now.Before(signedAt.Add(-maxSkew)) {
			return time.Time{}, &authFailure{http.StatusForbidden, "AccessDenied", "Request is not valid yet", nil}
		}
		if now.After(signedAt.Add(p.expires)) {
			return time.Time{}, &authFailure{http.StatusForbidden, "AccessDenied", "Request has expired",
				[][2]string{{"X-Amz-Expires", strconv.Itoa(int(p.expires / time.Second))},
					{"Expires", signedAt.Add(p.expires).UTC().Format(time.RFC3339)},
					{"ServerTime", now.UTC().Format(time.RFC3339)}}}
		}
	} else if d := now.Sub(signedAt); d > maxSkew || d < -maxSkew {
		return time.Time{}, &authFailure{http.StatusForbidden, "RequestTimeTooSkewed",
			"The difference between the request time and the current time is too large.",
			[][2]string{{"RequestTime", p.amzDate}, {"ServerTime", now.UTC().Format(time.RFC3339)},
				{"MaxAllowedSkewMilliseconds", strconv.Itoa(int(maxSkew / time.Millisecond))}}}
	}
	want, err := recompute(r, p, signedAt)
	if err != nil {
		return time.Time{}, &authFailure{http.StatusBadRequest, "InvalidRequest", "cannot recompute the signature: " + err.Error(), nil}
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(p.signature)) != 1 {
		return time.Time{}, &authFailure{http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.",
			[][2]string{{"AWSAccessKeyId", p.accessKey}}}
	}
	return signedAt, nil
}

func malformed(p sigParams, why string) *authFailure {
	if p.presigned {
		return &authFailure{http.StatusBadRequest, "AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter; " + why, nil}
	}
	return &authFailure{http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed; " + why, nil}
}

// parseSignature reads the header or presigned-URL form of a signature.
func parseSignature(r *http.Request) (sigParams, *authFailure) {
	var p sigParams
	q := r.URL.Query()
	auth := r.Header.Get("Authorization")
	var cred string
	switch {
	case auth != "":
		algo, rest, _ := strings.Cut(auth, " ")
		if algo != "AWS4-HMAC-SHA256" {
			if strings.HasPrefix(auth, "AWS ") {
				return p, &authFailure{http.StatusBadRequest, "InvalidRequest",
					"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.", nil}
			}
			return p, &authFailure{http.StatusBadRequest, "AuthorizationHeaderMalformed",
				fmt.Sprintf("The authorization header is malformed; the authorization type %q is not supported: use AWS4-HMAC-SHA256", algo), nil}
		}
		for _, part := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				cred = v
			case "SignedHeaders":
				p.signedHeaders = strings.Split(v, ";")
			case "Signature":
				p.signature = v
			}
		}
		p.amzDate = r.Header.Get("X-Amz-Date")
		if cred == "" || p.signature == "" || len(p.signedHeaders) == 0 {
			return p, &authFailure{http.StatusBadRequest, "AuthorizationHeaderMalformed",
				"The authorization header is malformed; it needs Credential, SignedHeaders and Signature", nil}
		}
	case q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Signature") != "":
		p.presigned = true
		if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
			return p, &authFailure{http.StatusBadRequest, "AuthorizationQueryParametersError",
				"X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"", nil}
		}
		cred = q.Get("X-Amz-Credential")
		p.signature = q.Get("X-Amz-Signature")
		p.amzDate = q.Get("X-Amz-Date")
		if sh := q.Get("X-Amz-SignedHeaders"); sh != "" {
			p.signedHeaders = strings.Split(sh, ";")
		}
		exp, err := strconv.Atoi(q.Get("X-Amz-Expires"))
		if err != nil || exp < 1 || exp > 604800 {
			return p, &authFailure{http.StatusBadRequest, "AuthorizationQueryParametersError",
				"X-Amz-Expires must be a number of seconds between 1 and 604800 (seven days)", nil}
		}
		p.expires = time.Duration(exp) * time.Second
		if cred == "" || p.signature == "" || len(p.signedHeaders) == 0 {
			return p, &authFailure{http.StatusBadRequest, "AuthorizationQueryParametersError",
				"Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.", nil}
		}
	default:
		return p, &authFailure{http.StatusForbidden, "AccessDenied",
			"Access Denied: the request is not signed (tickflow's S3 checks AWS Signature V4; use the printed keys, or start serve with --s3-auth off)", nil}
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return p, malformed(p, fmt.Sprintf("the Credential %q is not ACCESS_KEY/DATE/REGION/SERVICE/aws4_request", cred))
	}
	p.accessKey, p.date, p.region, p.service = parts[0], parts[1], parts[2], parts[3]
	return p, nil
}

// signer is the AWS SDK's SigV4 signer with S3's settings: S3 signs the
// path as sent (no second escaping), and a presigned URL keeps its
// X-Amz-* parameters where the client put them. Its derived-key cache is
// keyed by access key, not secret: safe here, the secret is always SecretKey.
var signer = v4.NewSigner(func(o *v4.SignerOptions) {
	o.DisableURIPathEscaping = true
	o.DisableHeaderHoisting = true
})

// recompute signs a copy of r carrying only what the client signed, with
// the world's secret, and returns the signature.
func recompute(r *http.Request, p sigParams, signedAt time.Time) (string, error) {
	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	if strings.HasPrefix(rawPath, "http://") || strings.HasPrefix(rawPath, "https://") {
		if u, err := url.Parse(rawPath); err == nil {
			rawPath = u.EscapedPath()
		}
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("query string: %w", err)
	}
	c := &http.Request{
		Method: r.Method,
		Host:   r.Host,
		URL:    &url.URL{Scheme: "http", Host: r.Host, Opaque: "//" + r.Host + rawPath},
		Header: http.Header{},
	}
	for _, h := range p.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil {
				n = r.ContentLength
			}
			c.ContentLength = n
		default:
			if v, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
				c.Header[http.CanonicalHeaderKey(h)] = v
			} else {
				// Signed but not sent: it was signed empty.
				c.Header[http.CanonicalHeaderKey(h)] = []string{""}
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: p.accessKey, SecretAccessKey: SecretKey}
	if p.presigned {
		creds.SessionToken = query.Get("X-Amz-Security-Token")
		for _, k := range []string{"X-Amz-Signature", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Security-Token"} {
			query.Del(k)
		}
		c.URL.RawQuery = query.Encode()
		payload := "UNSIGNED-PAYLOAD"
		if v := r.Header.Get("X-Amz-Content-Sha256"); v != "" && contains(p.signedHeaders, "x-amz-content-sha256") {
			payload = v
		}
		signed, _, err := signer.PresignHTTP(context.Background(), creds, c, payload, p.service, p.region, signedAt)
		if err != nil {
			return "", err
		}
		u, err := url.Parse(signed)
		if err != nil {
			return "", err
		}
		return u.Query().Get("X-Amz-Signature"), nil
	}
	c.URL.RawQuery = rawQuery
	creds.SessionToken = r.Header.Get("X-Amz-Security-Token")
	c.Header.Del("X-Amz-Security-Token") // the signer adds it from creds
	if !contains(p.signedHeaders, "x-amz-security-token") {
		creds.SessionToken = ""
	}
	c.Header.Del("X-Amz-Date") // the signer sets it from signedAt
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		// Not an S3 client's request (S3 requires the header): sign as
		// the SigV4 spec says, over the hash of an empty body.
		payload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	}
	if err := signer.SignHTTP(context.Background(), creds, c, payload, p.service, p.region, signedAt); err != nil {
		return "", err
	}
	_, sig, _ := strings.Cut(c.Header.Get("Authorization"), "Signature=")
	return sig, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
