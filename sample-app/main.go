// Command sample-app is the web service the pipeline ships: the tutorial's green success page, plus
// the deployed version and commit, and a /health endpoint that CodeDeploy and the load balancer check.
package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version and commit are set at build time with -ldflags by buildspec.yml.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	addr := ":" + envOr("PORT", "8080")
	srv := &http.Server{
		Addr:              addr,
		Handler:           newHandler(Build{Version: version, Commit: commit, Started: time.Now().UTC()}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// Let in-flight requests finish while the load balancer drains this instance.
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("sample-app %s (%s) listening on %s", version, commit, addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
