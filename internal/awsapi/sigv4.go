// Package awsapi calls AWS APIs from the stack's Lambda functions with the standard library only:
// Signature Version 4 signing, the query protocol (SNS) and the JSON protocol (DynamoDB). The
// functions are built from this module at synth time; without dependencies beyond the standard
// library, a CDK app that imports these constructs builds them offline, with nothing new in its
// go.sum.
//
// The signer follows AWS's published Signature Version 4 test suite (see sigv4_test.go).
package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
)

// Credentials sign requests. Lambda gives a function its role's temporary credentials in the
// environment.
type Credentials struct {
	// AccessKeyID and SecretAccessKey are the key pair.
	AccessKeyID, SecretAccessKey string
	// SessionToken comes with temporary credentials; it is empty for an IAM user's keys.
	SessionToken string
}

// CredentialsFromEnv reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
func CredentialsFromEnv() (Credentials, error) {
	c := Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return c, errors.New("awsapi: no credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	return c, nil
}

const (
	algorithm  = "AWS4-HMAC-SHA256"
	timeFormat = "20060102T150405Z"
)

// Sign signs req, whose body is body, for service in region at time now: it sets X-Amz-Date,
// X-Amz-Security-Token when the credentials have a session token, and Authorization. Every
// header already on req, and Host, is signed.
func Sign(req *http.Request, body []byte, c Credentials, region, service string, now time.Time) {
	stamp := now.UTC().Format(timeFormat)
	req.Header.Set("X-Amz-Date", stamp)
	if c.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.SessionToken)
	}
	signed, canonicalHeaders := headers(req)
	sum := sha256.Sum256(body)
	canonical := strings.Join([]string{
		req.Method,
		canonicalPath(req.URL.EscapedPath()),
		canonicalQuery(req.URL.RawQuery),
		canonicalHeaders,
		signed,
		hex.EncodeToString(sum[:]),
	}, "\n")
	scope := stamp[:8] + "/" + region + "/" + service + "/aws4_request"
	hashed := sha256.Sum256([]byte(canonical))
	toSign := algorithm + "\n" + stamp + "\n" + scope + "\n" + hex.EncodeToString(hashed[:])
	key := mac([]byte("AWS4"+c.SecretAccessKey), stamp[:8])
	for _, part := range []string{region, service, "aws4_request"} {
		key = mac(key, part)
	}
	req.Header.Set("Authorization", algorithm+" Credential="+c.AccessKeyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+hex.EncodeToString(mac(key, toSign)))
}

func mac(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// headers returns the signed header names and the canonical header block: lower-case names,
// sorted, values trimmed with inner runs of spaces collapsed, repeated headers joined by commas.
func headers(req *http.Request) (signed, block string) {
	values := map[string][]string{"host": {host(req)}}
	for name, vs := range req.Header {
		if n := strings.ToLower(name); n != "authorization" {
			values[n] = append(values[n], vs...)
		}
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		trimmed := make([]string, len(values[n]))
		for i, v := range values[n] {
			trimmed[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(n + ":" + strings.Join(trimmed, ",") + "\n")
	}
	return strings.Join(names, ";"), b.String()
}

func host(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// canonicalPath encodes each segment of an already escaped path again, as SigV4 requires for
// every service but S3.
func canonicalPath(escaped string) string {
	if escaped == "" {
		return "/"
	}
	segments := strings.Split(escaped, "/")
	for i, s := range segments {
		segments[i] = encode(s)
	}
	return strings.Join(segments, "/")
}

// canonicalQuery sorts the parameters by name, then value, each encoded as SigV4 requires.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var pairs []string
	for _, p := range strings.Split(raw, "&") {
		name, value, _ := strings.Cut(p, "=")
		pairs = append(pairs, encode(unescape(name))+"="+encode(unescape(value)))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// encode is RFC 3986 percent-encoding: every byte but the unreserved characters.
func encode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// unescape undoes percent-encoding, and leaves malformed escapes as they are.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := hex.DecodeString(s[i+1 : i+3]); err == nil {
				b.WriteByte(v[0])
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
