package main

import (
	"encoding/json"
	"html/template"
	"net/http"
	"time"
)

// Build identifies the running release.
type Build struct {
	Version string    `json:"version"`
	Commit  string    `json:"commit"`
	Started time.Time `json:"started"`
}

var page = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sample Deployment</title>
<style>
  body { color: #ffffff; background-color: #007f3f; font-family: Arial, sans-serif; font-size: 14px; }
  h1 { font-size: 500%; font-weight: normal; margin-bottom: 0; }
  h2 { font-size: 200%; font-weight: normal; margin-bottom: 0; }
  code { background-color: #006633; padding: 2px 4px; }
</style>
</head>
<body>
<div align="center">
  <h1>Congratulations</h1>
  <h2>YAY!</h2>
  <p>This application was built by AWS CodeBuild and released by AWS CodeDeploy through AWS CodePipeline.</p>
  <p>For next steps, read the <a href="https://aws.amazon.com/documentation/codepipeline" style="color:#ffffff">AWS CodePipeline documentation</a>.</p>
  <p>Version <code>{{.Version}}</code>, commit <code>{{.Commit}}</code>, running since {{.Started.Format "2006-01-02 15:04:05 MST"}}.</p>
</div>
</body>
</html>
`))

func newHandler(b Build) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(struct {
			Status string `json:"status"`
			Build
		}{"ok", b})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, b); err != nil {
			http.Error(w, "render failed", http.StatusInternalServerError)
		}
	})
	return mux
}
