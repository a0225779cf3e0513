package objstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidBucket(t *testing.T) {
	for _, ok := range []string{"tickflow-lake", "abc", "a.b-c1", "123"} {
		assert.NoError(t, ValidBucket(ok), ok)
	}
	for name, why := range map[string]string{
		"ab":                "3 to 63",
		"My_Bucket":         "lowercase",
		"-lake":             "begin and end",
		"lake.":             "begin and end",
		"a..b":              "adjacent periods",
		"192.168.1.1":       "IP address",
		"xn--lake":          "reserved prefix",
		"lake-s3alias":      "reserved suffix",
		"bucket with space": "has ' '",
	} {
		err := ValidBucket(name)
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), why, name)
		}
	}
}
