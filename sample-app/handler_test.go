package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var build = Build{Version: "42", Commit: "1a2b3c4", Started: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}

func get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	newHandler(build).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestIndexShowsSuccessPageWithRelease(t *testing.T) {
	rec := get(t, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{"Congratulations", "YAY!", "#007f3f", "<code>42</code>", "<code>1a2b3c4</code>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestHealthReportsOKAndRelease(t *testing.T) {
	rec := get(t, "/health")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	var got struct {
		Status  string `json:"status"`
		Version string `json:"version"`
		Commit  string `json:"commit"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != "ok" || got.Version != "42" || got.Commit != "1a2b3c4" {
		t.Errorf("health = %+v", got)
	}
}

func TestUnknownPathIsNotFound(t *testing.T) {
	if rec := get(t, "/nope"); rec.Code != http.StatusNotFound {
		t.Errorf("status = %d, want 404", rec.Code)
	}
}

func TestReleaseIsEscaped(t *testing.T) {
	rec := httptest.NewRecorder()
	newHandler(Build{Version: "<script>"}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Error("version is not HTML-escaped")
	}
}
