// Package lambdart runs a Go function on Lambda's OS-only runtime (provided.al2023) with the
// standard library: it speaks the Lambda runtime API (next invocation, response, error) that
// the runtime documents at /2018-06-01/runtime.
//
// The stack's functions are invoked asynchronously (by EventBridge), so a handler returns only an
// error: an invocation that fails is retried by Lambda and then sent to the function's
// dead-letter destination.
package lambdart

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Handler handles one event.
type Handler func(ctx context.Context, event []byte) error

// Start serves invocations from the runtime API in AWS_LAMBDA_RUNTIME_API until the process ends.
func Start(h Handler) {
	err := Serve(context.Background(), os.Getenv("AWS_LAMBDA_RUNTIME_API"), &http.Client{}, h)
	fmt.Fprintln(os.Stderr, "lambdart:", err)
	os.Exit(1)
}

// Serve runs the invocation loop against the runtime API at api (host:port). It returns only
// when the runtime API cannot be reached or answers unexpectedly.
func Serve(ctx context.Context, api string, client *http.Client, h Handler) error {
	base := "http://" + api + "/2018-06-01/runtime/invocation/"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"next", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		event, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("next invocation: %s", resp.Status)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		invocation, cancel := context.WithCancel(ctx)
		if ms, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64); err == nil {
			invocation, cancel = context.WithDeadline(ctx, time.UnixMilli(ms))
		}
		herr := call(invocation, h, event)
		cancel()
		if herr != nil {
			fmt.Fprintf(os.Stderr, "invocation %s failed: %v\n", id, herr)
			body, _ := json.Marshal(map[string]string{"errorMessage": herr.Error(), "errorType": "HandlerError"})
			err = post(ctx, client, base+id+"/error", body, "Unhandled")
		} else {
			err = post(ctx, client, base+id+"/response", []byte("null"), "")
		}
		if err != nil {
			return err
		}
	}
}

// call runs the handler and turns a panic into an error, so that one bad event fails its
// invocation rather than the whole runtime.
func call(ctx context.Context, h Handler, event []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return h(ctx, event)
}

func post(ctx context.Context, client *http.Client, url string, body []byte, errorType string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("post %s: %s", url, resp.Status)
	}
	return nil
}
