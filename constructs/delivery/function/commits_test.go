package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
)

// fakeCodeCommit is CodeCommit as the function uses it: GetCommit in the JSON 1.1 protocol,
// answered in the documented shape (testdata/get-commit.json) from the commits it holds. fail
// makes every call a server error; shape rewrites the answer, to break it as a changed API would.
type fakeCodeCommit struct {
	mu      sync.Mutex
	commits dora.CommitMap
	asked   []string
	fail    bool
	shape   func(answer map[string]any)
}

func (f *fakeCodeCommit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	var in struct{ RepositoryName, CommitId string }
	switch {
	case !strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/codecommit/aws4_request"):
		http.Error(w, `{"__type":"MissingAuthenticationTokenException","message":"not signed for CodeCommit in eu-west-1"}`, http.StatusBadRequest)
		return
	case r.Header.Get("X-Amz-Target") != "CodeCommit_20150413.GetCommit" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1",
		json.Unmarshal(body, &in) != nil, in.RepositoryName != "sample-app", in.CommitId == "":
		http.Error(w, `{"__type":"ValidationException","message":"bad request"}`, http.StatusBadRequest)
		return
	case f.fail:
		http.Error(w, `{"__type":"ServiceUnavailableException","message":"try later"}`, http.StatusServiceUnavailable)
		return
	}
	f.asked = append(f.asked, in.CommitId)
	c, ok := f.commits[in.CommitId]
	if !ok {
		http.Error(w, `{"__type":"CommitDoesNotExistException","message":"The specified commit does not exist."}`, http.StatusBadRequest)
		return
	}
	raw, err := os.ReadFile("testdata/get-commit.json")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var answer map[string]any
	_ = json.Unmarshal(raw, &answer)
	commit := answer["commit"].(map[string]any)
	commit["commitId"], commit["parents"] = in.CommitId, c.Parents
	if c.Parents == nil {
		commit["parents"] = []string{}
	}
	date := formatGitDate(c.Committed)
	commit["committer"].(map[string]any)["date"] = date
	commit["author"].(map[string]any)["date"] = date
	if f.shape != nil {
		f.shape(answer)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(answer)
}

// formatGitDate writes a date as git and CodeCommit do: "1484167798 -0800".
func formatGitDate(t time.Time) string {
	return fmt.Sprintf("%d %s", t.Unix(), t.Format("-0700"))
}

// newRepository returns a Repository on the fake, through the SDK's CodeCommit client with its
// standard retries, without the waits.
func newRepository(t *testing.T, f *fakeCodeCommit) *Repository {
	server := httptest.NewServer(f)
	t.Cleanup(server.Close)
	return &Repository{Name: "sample-app", API: codecommit.New(codecommit.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(server.URL), HTTPClient: server.Client(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, nil
		}),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})}
}

// TestGetCommit: the documented answer reads as its committer date and parents; a commit the
// repository lacks is ErrNoCommit; an answer in another shape, or a failing service, is an error
// that fails the event, never a wrong lead time.
func TestGetCommit(t *testing.T) {
	ctx := context.Background()
	committed := time.Date(2026, 11, 25, 9, 40, 0, 0, time.FixedZone("", -8*3600))
	f := &fakeCodeCommit{commits: dora.CommitMap{"c1": {Parents: []string{"c0"}, Committed: committed}}}
	repo := newRepository(t, f)
	c, err := repo.Commit(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, []string{"c0"}, c.Parents)
	assert.True(t, committed.Equal(c.Committed), "%v", c.Committed)
	_, err = repo.Commit(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, []string{"c1"}, f.asked, "commits never change: asked once")
	_, err = repo.Commit(ctx, "nope")
	assert.ErrorIs(t, err, dora.ErrNoCommit)

	for name, shape := range map[string]func(map[string]any){
		"an RFC 3339 date": func(a map[string]any) {
			a["commit"].(map[string]any)["committer"].(map[string]any)["date"] = committed.Format(time.RFC3339)
		},
		"no committer": func(a map[string]any) { delete(a["commit"].(map[string]any), "committer") },
	} {
		f := &fakeCodeCommit{commits: dora.CommitMap{"c1": {Committed: committed}}, shape: shape}
		_, err := newRepository(t, f).Commit(ctx, "c1")
		assert.ErrorContains(t, err, "commit c1 of sample-app", name)
	}
	f = &fakeCodeCommit{commits: dora.CommitMap{"c1": {Committed: committed}}, fail: true}
	_, err = newRepository(t, f).Commit(ctx, "c1")
	assert.ErrorContains(t, err, "ServiceUnavailable")
}
