package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Client calls AWS APIs in one region.
type Client struct {
	// Region is where the services are called.
	Region string
	// URLSuffix is the partition's domain: amazonaws.com, or amazonaws.com.cn in China.
	URLSuffix string
	// Credentials returns the credentials for each request.
	Credentials func() (Credentials, error)
	// HTTP sends the requests.
	HTTP *http.Client
	// Endpoint, when set, replaces https://<service>.<region>.<suffix> (tests point it at a fake).
	Endpoint func(service string) string
	// Attempts is how often a throttled or failed (5xx) call is tried in all.
	Attempts int
	// Now is the clock that dates each signature.
	Now func() time.Time
	// Sleep waits between attempts.
	Sleep func(time.Duration)
}

// NewClientFromEnv returns a client for the function's region (AWS_REGION), its partition's
// domain (AWS_URL_SUFFIX, set by the stack) and its role's credentials.
func NewClientFromEnv() *Client {
	suffix := os.Getenv("AWS_URL_SUFFIX")
	if suffix == "" {
		suffix = "amazonaws.com"
	}
	return &Client{
		Region: os.Getenv("AWS_REGION"), URLSuffix: suffix, Credentials: CredentialsFromEnv,
		HTTP: &http.Client{Timeout: 10 * time.Second}, Attempts: 3, Now: time.Now, Sleep: time.Sleep,
	}
}

// Error is an error answer of an AWS API.
type Error struct {
	// Service and Action name the call, such as sns and Publish.
	Service, Action string
	// Status is the HTTP status code.
	Status int
	// Code and Message are the service's error code (AuthorizationError, Throttling, ...) and text.
	Code, Message string
}

// Error reads "service action: status code: message".
func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Service, e.Action, e.Status, e.Code, e.Message)
}

// retryable reports whether trying again may succeed: throttling and server errors.
func (e *Error) retryable() bool {
	return e.Status >= 500 || e.Status == 429 || strings.Contains(e.Code, "Throttl") || e.Code == "RequestLimitExceeded"
}

// Query calls an action of a query-protocol API (SNS) and returns the response body.
func (c *Client) Query(ctx context.Context, service, version, action string, params url.Values) ([]byte, error) {
	form := url.Values{"Action": {action}, "Version": {version}}
	for k, v := range params {
		form[k] = v
	}
	body := []byte(form.Encode())
	return c.call(ctx, service, action, body, map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
		func(status int, b []byte) *Error {
			var e struct {
				Error struct{ Code, Message string }
			}
			_ = xml.Unmarshal(b, &e)
			return &Error{Service: service, Action: action, Status: status, Code: e.Error.Code, Message: e.Error.Message}
		})
}

// JSON calls an operation of a JSON-protocol API (DynamoDB: target prefix "DynamoDB_20120810",
// version "1.0") and decodes the answer into out, when out is not nil.
func (c *Client) JSON(ctx context.Context, service, targetPrefix, jsonVersion, operation string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	b, err := c.call(ctx, service, operation, body, map[string]string{
		"Content-Type": "application/x-amz-json-" + jsonVersion, "X-Amz-Target": targetPrefix + "." + operation,
	}, func(status int, b []byte) *Error {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
			Upper   string `json:"Message"`
		}
		_ = json.Unmarshal(b, &e)
		code := e.Type[strings.LastIndex(e.Type, "#")+1:]
		if e.Message == "" {
			e.Message = e.Upper
		}
		return &Error{Service: service, Action: operation, Status: status, Code: code, Message: e.Message}
	})
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func (c *Client) call(ctx context.Context, service, action string, body []byte, header map[string]string, decode func(int, []byte) *Error) ([]byte, error) {
	endpoint := "https://" + service + "." + c.Region + "." + c.URLSuffix + "/"
	if c.Endpoint != nil {
		endpoint = c.Endpoint(service)
	}
	attempts := max(c.Attempts, 1)
	for attempt := 1; ; attempt++ {
		b, err := c.once(ctx, endpoint, service, body, header, decode)
		e, isAPI := err.(*Error)
		if err == nil || attempt == attempts || (isAPI && !e.retryable()) || ctx.Err() != nil {
			return b, err
		}
		c.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
}

func (c *Client) once(ctx context.Context, endpoint, service string, body []byte, header map[string]string, decode func(int, []byte) *Error) ([]byte, error) {
	creds, err := c.Credentials()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	Sign(req, body, creds, c.Region, service, c.Now())
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, decode(resp.StatusCode, b)
	}
	return b, nil
}
