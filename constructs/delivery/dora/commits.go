package dora

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Commit is what lead time needs of a commit: its parents, and when it was committed (the
// committer date, as DORA measures from "committed to version control").
type Commit struct {
	// ID is the commit's full SHA.
	ID string `json:"commit"`
	// Parents are its parents' ids.
	Parents []string `json:"parents"`
	// Committed is its committer date.
	Committed time.Time `json:"committed"`
}

// ErrNoCommit: the repository has no such commit (or the source is not a CodeCommit repository).
var ErrNoCommit = errors.New("no such commit")

// Commits answers what codecommit:GetCommit answers: the function asks CodeCommit, the replay
// command reads commit records. Any error but ErrNoCommit fails the event, to be tried again.
type Commits interface {
	Commit(ctx context.Context, id string) (Commit, error)
}

// CommitMap is Commits from records, as the replay command reads them.
type CommitMap map[string]Commit

// Commit returns the record of id, or ErrNoCommit.
func (m CommitMap) Commit(_ context.Context, id string) (Commit, error) {
	c, ok := m[id]
	if !ok {
		return Commit{}, ErrNoCommit
	}
	return c, nil
}

// ParseGitDate reads a date as CodeCommit's UserInfo gives it, git's raw form: seconds since the
// epoch and the offset from UTC, "1484167798 -0800" (CodeCommit API reference, GetCommit).
func ParseGitDate(s string) (time.Time, error) {
	secs, zone, ok := strings.Cut(strings.TrimSpace(s), " ")
	n, err := strconv.ParseInt(secs, 10, 64)
	if !ok || err != nil || len(zone) != 5 || (zone[0] != '+' && zone[0] != '-') {
		return time.Time{}, fmt.Errorf("commit date %q is not git's \"<seconds> <+hhmm>\"", s)
	}
	hh, err1 := strconv.Atoi(zone[1:3])
	mm, err2 := strconv.Atoi(zone[3:])
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("commit date %q: bad offset", s)
	}
	offset := (hh*60 + mm) * 60
	if zone[0] == '-' {
		offset = -offset
	}
	return time.Unix(n, 0).In(time.FixedZone(zone, offset)), nil
}
