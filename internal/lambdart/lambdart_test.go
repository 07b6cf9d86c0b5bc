package lambdart

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// runtimeAPI plays Lambda's runtime API: it hands out events in order, records what the function
// posted back, and ends the loop with a 500 when it has no events left.
type runtimeAPI struct {
	mu      sync.Mutex
	events  []string
	posts   []string
	headers []http.Header
}

func (r *runtimeAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const prefix = "/2018-06-01/runtime/invocation/"
	switch {
	case req.Method == http.MethodGet && req.URL.Path == prefix+"next":
		if len(r.events) == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-"+strconv.Itoa(len(r.posts)+1))
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		_, _ = w.Write([]byte(r.events[0]))
		r.events = r.events[1:]
	case req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, prefix):
		b, _ := io.ReadAll(req.Body)
		r.posts = append(r.posts, strings.TrimPrefix(req.URL.Path, prefix)+" "+string(b))
		r.headers = append(r.headers, req.Header)
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestServe(t *testing.T) {
	api := &runtimeAPI{events: []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}}
	server := httptest.NewServer(api)
	defer server.Close()
	var seen []string
	err := Serve(context.Background(), strings.TrimPrefix(server.URL, "http://"), server.Client(), func(ctx context.Context, event []byte) error {
		seen = append(seen, string(event))
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		switch string(event) {
		case `{"n":2}`:
			return errors.New("bad event")
		case `{"n":3}`:
			panic("boom")
		}
		return nil
	})
	assert.EqualError(t, err, "next invocation: 500 Internal Server Error")
	assert.Equal(t, []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}, seen)
	assert.Equal(t, []string{
		"req-1/response null",
		`req-2/error {"errorMessage":"bad event","errorType":"HandlerError"}`,
		`req-3/error {"errorMessage":"panic: boom","errorType":"HandlerError"}`,
	}, api.posts)
	assert.Equal(t, "Unhandled", api.headers[1].Get("Lambda-Runtime-Function-Error-Type"))
}
