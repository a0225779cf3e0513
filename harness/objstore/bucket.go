package objstore

import (
	"fmt"
	"net"
	"strings"
)

// ValidBucket applies Amazon S3's general-purpose bucket naming rules and
// returns an error saying which one name breaks: 3–63 characters of
// lowercase letters, digits, '.' and '-', beginning and ending with a letter
// or digit, no "..", not an IP address, none of the reserved prefixes
// (xn--, sthree-, amzn-s3-demo-) and suffixes (-s3alias, --ol-s3, .mrap,
// --x-s3, --table-s3). Source: docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
func ValidBucket(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("bucket name %q has length %d: S3 wants 3 to 63 characters", name, len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return fmt.Errorf("bucket name %q has %q: S3 allows only lowercase letters, digits, '.' and '-'", name, r)
		}
	}
	alnum := func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return fmt.Errorf("bucket name %q must begin and end with a lowercase letter or digit", name)
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("bucket name %q has \"..\": S3 refuses two adjacent periods", name)
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("bucket name %q looks like an IP address: S3 refuses it", name)
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("bucket name %q starts with the reserved prefix %q", name, p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return fmt.Errorf("bucket name %q ends with the reserved suffix %q", name, s)
		}
	}
	return nil
}
