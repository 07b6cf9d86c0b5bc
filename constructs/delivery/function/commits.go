package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/aws/aws-sdk-go-v2/service/codecommit/types"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
)

// cachedCommits bounds the commits an execution environment remembers: commits never change, so
// a deployment's walk asks CodeCommit once for each.
const cachedCommits = 10000

// CodeCommit is the part of the CodeCommit API that the function calls.
type CodeCommit interface {
	GetCommit(context.Context, *codecommit.GetCommitInput, ...func(*codecommit.Options)) (*codecommit.GetCommitOutput, error)
}

// Repository answers dora.Commits with codecommit:GetCommit on one repository.
type Repository struct {
	API  CodeCommit
	Name string

	mu    sync.Mutex
	cache map[string]dora.Commit
}

// Commit returns the commit id of the repository: its parents and its committer date.
func (r *Repository) Commit(ctx context.Context, id string) (dora.Commit, error) {
	r.mu.Lock()
	c, ok := r.cache[id]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	out, err := r.API.GetCommit(ctx, &codecommit.GetCommitInput{RepositoryName: aws.String(r.Name), CommitId: aws.String(id)})
	if _, missing := errors.AsType[*types.CommitDoesNotExistException](err); missing {
		return dora.Commit{}, dora.ErrNoCommit
	}
	if err != nil {
		return dora.Commit{}, fmt.Errorf("reading commit %s of %s: %w", id, r.Name, err)
	}
	if out.Commit == nil || out.Commit.Committer == nil || out.Commit.Committer.Date == nil {
		return dora.Commit{}, fmt.Errorf("commit %s of %s: CodeCommit gave no committer date", id, r.Name)
	}
	committed, err := dora.ParseGitDate(*out.Commit.Committer.Date)
	if err != nil {
		return dora.Commit{}, fmt.Errorf("commit %s of %s: %w", id, r.Name, err)
	}
	c = dora.Commit{ID: id, Parents: out.Commit.Parents, Committed: committed}
	r.mu.Lock()
	if r.cache == nil || len(r.cache) >= cachedCommits {
		r.cache = map[string]dora.Commit{}
	}
	r.cache[id] = c
	r.mu.Unlock()
	return c, nil
}

// noRepository answers every commit as unknown: without a repository there is no commit lead
// time, only the pipeline lead time.
type noRepository struct{}

func (noRepository) Commit(context.Context, string) (dora.Commit, error) {
	return dora.Commit{}, dora.ErrNoCommit
}
