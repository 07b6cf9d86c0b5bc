package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// cloud is the dry run's fake AWS account: one region, the stack the fake CDK CLI deploys, and
// what outlives it. Each command the flow runs is answered under one lock and logged.
type cloud struct {
	mu              sync.Mutex
	account, region string
	root            string // the app's root, which the fake CDK CLI synthesizes
	tmp             string

	stack     *deployed  // nil when there is none
	deployed  *synthesis // what the last deploy synthesized
	repos     map[string]*repo
	queues    map[string]*queue // by URL
	buckets   map[string]*bucket
	logGroups map[string]bool
	keys      map[string]string // key id to key state
	pipe      *pipeline         // with the stack
	app       *httptest.Server  // the fleet behind the load balancer
	ids       int

	calls []call
	// fail, when set, may fail the n-th command (counting from 0) instead of answering it.
	fail func(n int, c command) error
	// script changes what the fake services do, for the failures only they can cause.
	script script
	// updateLogs holds the log of each update stage's build.
	updateLogs []string
}

// script lists the service behaviours a dry run can change.
type script struct {
	buildFails       bool // every build fails
	neverFinishes    bool // executions never leave InProgress
	neverServes      bool // the load balancer never has a healthy target
	noCodeDeployRoll bool // CodeDeploy does not roll back a failed deployment
	dropDeliveries   bool // SNS delivers nothing to SQS
	// sampleAppOnly: the repository holds the sample app at its root, as an imported repository
	// of the pipeline before self-update does, not the seed of the app.
	sampleAppOnly bool
}

// call is a command and its result.
type call struct {
	command
	result
}

// key names a command for the log: "aws sqs create-queue", "npx cdk deploy".
func (c command) key() string {
	if len(c.Args) < 2 {
		return c.Name + " " + strings.Join(c.Args, " ")
	}
	return c.Name + " " + c.Args[0] + " " + c.Args[1]
}

func newCloud(t *testing.T, root string) *cloud {
	c := &cloud{
		account: "123456789012", region: "us-east-1", root: root, tmp: t.TempDir(),
		repos: map[string]*repo{}, queues: map[string]*queue{}, buckets: map[string]*bucket{},
		logGroups: map[string]bool{}, keys: map[string]string{},
	}
	c.app = httptest.NewServer(http.HandlerFunc(c.serveApp))
	t.Cleanup(c.app.Close)
	return c
}

// handle answers one command line.
func (c *cloud) handle(cmd command) result {
	c.mu.Lock()
	defer c.mu.Unlock()
	var r result
	switch cmd.Name {
	case "aws":
		r = c.runAWS(cmd.Args, cmd.Dir)
	case "npx":
		r = c.runNpx(cmd.Args, cmd.Dir)
	}
	c.calls = append(c.calls, call{cmd, r})
	return r
}

// inject fails the command when the dry run says so.
func (c *cloud) inject(cmd command) error {
	if c.fail == nil {
		return nil
	}
	return c.fail(len(c.calls), cmd)
}

// id returns a new unique suffix, as CloudFormation appends to generated names.
func (c *cloud) id() string {
	c.ids++
	return fmt.Sprintf("%012X", c.ids)
}

func (c *cloud) uuid() string {
	c.ids++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", c.ids, c.ids)
}

// keys of a map, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var operations = map[string]operation{}

func init() {
	for k, v := range map[string]operation{
		"sts get-caller-identity": {api: "GetCallerIdentity", do: func(c *cloud, _ params, _ string) (any, error) {
			return map[string]string{"UserId": "AIDAEXAMPLEUSERID", "Account": c.account, "Arn": "arn:aws:iam::" + c.account + ":user/e2e"}, nil
		}},
		"sqs create-queue":         {api: "CreateQueue", options: map[string]option{"--queue-name": {required: true}}, do: (*cloud).createQueue},
		"sqs get-queue-attributes": {api: "GetQueueAttributes", options: map[string]option{"--queue-url": {required: true}, "--attribute-names": {list: true}}, do: (*cloud).getQueueAttributes},
		"sqs set-queue-attributes": {api: "SetQueueAttributes", options: map[string]option{"--queue-url": {required: true}, "--attributes": {required: true}}, do: (*cloud).setQueueAttributes},
		"sqs receive-message": {api: "ReceiveMessage", options: map[string]option{"--queue-url": {required: true}, "--max-number-of-messages": {},
			"--wait-time-seconds": {}, "--visibility-timeout": {}}, do: (*cloud).receiveMessage},
		"sqs delete-queue":           {api: "DeleteQueue", options: map[string]option{"--queue-url": {required: true}}, do: (*cloud).deleteQueue},
		"s3api list-object-versions": {api: "ListObjectVersions", options: map[string]option{"--bucket": {required: true}, "--max-items": {}}, do: (*cloud).listObjectVersions},
		"s3api delete-objects":       {api: "DeleteObjects", options: map[string]option{"--bucket": {required: true}, "--delete": {required: true}}, do: (*cloud).deleteObjects},
		"s3api delete-bucket":        {api: "DeleteBucket", options: map[string]option{"--bucket": {required: true}}, do: (*cloud).deleteBucket},
		"logs delete-log-group":      {api: "DeleteLogGroup", options: map[string]option{"--log-group-name": {required: true}}, do: (*cloud).deleteLogGroup},
		"kms schedule-key-deletion":  {api: "ScheduleKeyDeletion", options: map[string]option{"--key-id": {required: true}, "--pending-window-in-days": {}}, do: (*cloud).scheduleKeyDeletion},
	} {
		operations[k] = v
	}
}

// --- SQS

type queue struct {
	name, url string
	policy    string
	messages  []*message
}

type message struct {
	id, body, receipt string
	hiddenUntil       time.Time
}

func (c *cloud) queueARN(name string) string {
	return "arn:aws:sqs:" + c.region + ":" + c.account + ":" + name
}

func (c *cloud) createQueue(p params, _ string) (any, error) {
	name := p.get("--queue-name")
	url := "https://sqs." + c.region + ".amazonaws.com/" + c.account + "/" + name
	if c.queues[url] == nil {
		c.queues[url] = &queue{name: name, url: url}
	}
	return map[string]string{"QueueUrl": url}, nil
}

func (c *cloud) queue(url string) (*queue, error) {
	if q := c.queues[url]; q != nil {
		return q, nil
	}
	return nil, errorf("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
}

func (c *cloud) getQueueAttributes(p params, _ string) (any, error) {
	q, err := c.queue(p.get("--queue-url"))
	if err != nil {
		return nil, err
	}
	all := map[string]string{"QueueArn": c.queueARN(q.name), "VisibilityTimeout": "30", "ApproximateNumberOfMessages": fmt.Sprint(len(q.messages))}
	if q.policy != "" {
		all["Policy"] = q.policy
	}
	out := map[string]string{}
	for _, name := range p["--attribute-names"] {
		if name == "All" {
			out = all
			break
		}
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	if len(out) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"Attributes": out}, nil
}

func (c *cloud) setQueueAttributes(p params, _ string) (any, error) {
	q, err := c.queue(p.get("--queue-url"))
	if err != nil {
		return nil, err
	}
	var attributes map[string]string
	if err := jsonOption(p.get("--attributes"), &attributes); err != nil {
		return nil, err
	}
	for k, v := range attributes {
		if k != "Policy" {
			return nil, errorf("InvalidAttributeName", "fake: attribute %s is not emulated", k)
		}
		q.policy = v
	}
	return map[string]any{}, nil
}

func (c *cloud) receiveMessage(p params, _ string) (any, error) {
	q, err := c.queue(p.get("--queue-url"))
	if err != nil {
		return nil, err
	}
	max, visibility := 1, 30
	if v := p.get("--max-number-of-messages"); v != "" {
		if _, err := fmt.Sscan(v, &max); err != nil || max < 1 || max > 10 {
			return nil, errorf("InvalidParameterValue", "Value %s for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", v)
		}
	}
	if v := p.get("--wait-time-seconds"); v != "" {
		var wait int
		if _, err := fmt.Sscan(v, &wait); err != nil || wait < 0 || wait > 20 {
			return nil, errorf("InvalidParameterValue", "Value %s for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", v)
		}
	}
	if v := p.get("--visibility-timeout"); v != "" {
		if _, err := fmt.Sscan(v, &visibility); err != nil || visibility < 0 || visibility > 43200 {
			return nil, errorf("InvalidParameterValue", "Value %s for parameter VisibilityTimeout is invalid.", v)
		}
	}
	// SQS answers with fewer messages than asked even when more wait: the flow must keep asking.
	max = min(max, 4)
	now := time.Now()
	var out []map[string]string
	for _, m := range q.messages {
		if len(out) == max {
			break
		}
		if now.Before(m.hiddenUntil) {
			continue
		}
		m.hiddenUntil = now.Add(time.Duration(visibility) * time.Second)
		m.receipt = "AQEB" + c.id()
		sum := md5.Sum([]byte(m.body))
		out = append(out, map[string]string{"MessageId": m.id, "ReceiptHandle": m.receipt, "MD5OfBody": hex.EncodeToString(sum[:]), "Body": m.body})
	}
	if len(out) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"Messages": out}, nil
}

func (c *cloud) deleteQueue(p params, _ string) (any, error) {
	if _, err := c.queue(p.get("--queue-url")); err != nil {
		return nil, err
	}
	delete(c.queues, p.get("--queue-url"))
	return map[string]any{}, nil
}

// allowsSNS reports whether a queue policy lets SNS topic of this account send: the statement the
// flow writes, read as IAM would for the conditions it uses.
func (c *cloud) allowsSNS(q *queue, topicARN string) bool {
	var doc struct {
		Statement []struct {
			Effect    string
			Principal struct{ Service any }
			Action    any
			Resource  any
			Condition map[string]map[string]any
		}
	}
	if json.Unmarshal([]byte(q.policy), &doc) != nil {
		return false
	}
	has := func(v any, want ...string) bool {
		var list []any
		switch x := v.(type) {
		case string:
			list = []any{x}
		case []any:
			list = x
		}
		for _, e := range list {
			for _, w := range want {
				if e == w {
					return true
				}
			}
		}
		return false
	}
	context := map[string]string{"aws:SourceAccount": c.account, "aws:SourceArn": topicARN}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" || !has(s.Principal.Service, "sns.amazonaws.com") || !has(s.Action, "sqs:SendMessage", "sqs:*") ||
			!has(s.Resource, c.queueARN(q.name), "*") {
			continue
		}
		ok := true
		for operator, conditions := range s.Condition {
			for k, v := range conditions {
				if operator != "StringEquals" && operator != "ArnEquals" || !has(v, context[k]) {
					ok = false
				}
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// --- S3, CloudWatch Logs, KMS: what the stack retains

type bucket struct {
	versions []objectVersion
}

type objectVersion struct {
	Key, VersionId string
	deleteMarker   bool
}

func (c *cloud) bucket(name string) (*bucket, error) {
	if b := c.buckets[name]; b != nil {
		return b, nil
	}
	return nil, errorf("NoSuchBucket", "The specified bucket does not exist")
}

func (c *cloud) listObjectVersions(p params, _ string) (any, error) {
	b, err := c.bucket(p.get("--bucket"))
	if err != nil {
		return nil, err
	}
	max := 1000
	if v := p.get("--max-items"); v != "" {
		fmt.Sscan(v, &max)
	}
	out := map[string]any{}
	var versions, markers []map[string]any
	for i, v := range b.versions {
		if i == max {
			out["NextToken"] = "token" + c.id()
			break
		}
		e := map[string]any{"Key": v.Key, "VersionId": v.VersionId, "IsLatest": true, "LastModified": "2026-11-28T08:00:00+00:00"}
		if v.deleteMarker {
			markers = append(markers, e)
		} else {
			e["Size"], e["StorageClass"], e["ETag"] = 12, "STANDARD", `"0123456789abcdef0123456789abcdef"`
			versions = append(versions, e)
		}
	}
	if versions != nil {
		out["Versions"] = versions
	}
	if markers != nil {
		out["DeleteMarkers"] = markers
	}
	return out, nil
}

func (c *cloud) deleteObjects(p params, _ string) (any, error) {
	b, err := c.bucket(p.get("--bucket"))
	if err != nil {
		return nil, err
	}
	var del struct {
		Objects []struct{ Key, VersionId string }
		Quiet   bool
	}
	if err := jsonOption(p.get("--delete"), &del); err != nil {
		return nil, err
	}
	if len(del.Objects) > 1000 {
		return nil, errorf("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
	}
	var deleted []map[string]string
	for _, o := range del.Objects {
		for i, v := range b.versions {
			if v.Key == o.Key && v.VersionId == o.VersionId {
				b.versions = append(b.versions[:i], b.versions[i+1:]...)
				deleted = append(deleted, map[string]string{"Key": o.Key, "VersionId": o.VersionId})
				break
			}
		}
	}
	if del.Quiet || len(deleted) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"Deleted": deleted}, nil
}

func (c *cloud) deleteBucket(p params, _ string) (any, error) {
	b, err := c.bucket(p.get("--bucket"))
	if err != nil {
		return nil, err
	}
	if len(b.versions) > 0 {
		return nil, errorf("BucketNotEmpty", "The bucket you tried to delete is not empty. You must delete all versions in the bucket.")
	}
	delete(c.buckets, p.get("--bucket"))
	return map[string]any{}, nil
}

func (c *cloud) deleteLogGroup(p params, _ string) (any, error) {
	name := p.get("--log-group-name")
	if !c.logGroups[name] {
		return nil, errorf("ResourceNotFoundException", "The specified log group does not exist.")
	}
	delete(c.logGroups, name)
	return map[string]any{}, nil
}

func (c *cloud) scheduleKeyDeletion(p params, _ string) (any, error) {
	id := p.get("--key-id")
	days := 30
	if v := p.get("--pending-window-in-days"); v != "" {
		if _, err := fmt.Sscan(v, &days); err != nil || days < 7 || days > 30 {
			return nil, errorf("ValidationException", "1 validation error detected: Value '%s' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", v)
		}
	}
	state, ok := c.keys[id]
	if !ok {
		return nil, errorf("NotFoundException", "Key 'arn:aws:kms:%s:%s:key/%s' does not exist", c.region, c.account, id)
	}
	if state != "Enabled" {
		return nil, errorf("KMSInvalidStateException", "arn:aws:kms:%s:%s:key/%s is pending deletion.", c.region, c.account, id)
	}
	c.keys[id] = "PendingDeletion"
	return map[string]any{"KeyId": "arn:aws:kms:" + c.region + ":" + c.account + ":key/" + id, "DeletionDate": "2026-12-05T08:00:00+00:00",
		"KeyState": "PendingDeletion", "PendingWindowInDays": days}, nil
}

// --- the fleet behind the load balancer

// serveApp answers as the sample app's /health does on every instance the load balancer reaches:
// while a deployment runs, instances serve the old and the new release; before the first one,
// the load balancer has no healthy target.
func (c *cloud) serveApp(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	served, next := "", ""
	if c.pipe != nil && !c.script.neverServes {
		served, next = c.pipe.served, c.pipe.deploying
		c.pipe.requests++
		if next != "" && c.pipe.requests%2 == 0 {
			served = next
		}
	}
	c.mu.Unlock()
	if r.URL.Path != "/health" {
		http.NotFound(w, r)
		return
	}
	if served == "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "<html><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"status": "ok", "version": "1", "commit": served, "started": "2026-11-28T08:00:00Z"})
}

// leftovers lists what is still in the account: what the flow should have deleted.
func (c *cloud) leftovers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	if c.stack != nil {
		out = append(out, "stack "+stack)
	}
	for _, url := range sortedKeys(c.queues) {
		out = append(out, "queue "+url)
	}
	for _, name := range sortedKeys(c.repos) {
		out = append(out, "repository "+name)
	}
	for _, name := range sortedKeys(c.buckets) {
		out = append(out, "bucket "+name)
	}
	for _, name := range sortedKeys(c.logGroups) {
		out = append(out, "log group "+name)
	}
	for _, id := range sortedKeys(c.keys) {
		if c.keys[id] == "Enabled" {
			out = append(out, "key "+id)
		}
	}
	return out
}
