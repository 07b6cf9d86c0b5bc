package selfupdate_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/constructs/selfupdate"
	"github.com/pipekit/cdk-pipeline/constructs/selfupdate/seed"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example adds the update stage to a pipeline whose repository holds the app that synthesizes it.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("SelfUpdating"), nil)
	p := pipeline.New(stack, jsii.String("Pipeline"), &pipeline.Props{RestartExecutionOnUpdate: true})
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("infra"))
	source := awscodepipeline.NewArtifact(jsii.String("Source"), nil)
	p.AddStage("Source", awscodepipelineactions.NewCodeCommitSourceAction(&awscodepipelineactions.CodeCommitSourceActionProps{
		ActionName: jsii.String("Source"), Repository: repo, Output: source,
	}))
	update := selfupdate.New(stack, jsii.String("SelfUpdate"), &selfupdate.Props{
		Digest: jsii.String("0123abcd"), Targets: []awscdk.Stack{stack}, ArtifactBucket: p.ArtifactBucket, ArtifactKey: p.ArtifactKey,
	})
	p.AddStage("SelfUpdate", update.NewAction(source))
	selfupdate.NewReview(stack, jsii.String("Review"), &selfupdate.ReviewProps{Repository: repo})
	template := assertions.Template_FromStack(stack, nil)
	fmt.Println(len(*template.FindResources(jsii.String("AWS::CodeBuild::Project"), nil)), "projects: the update and the review")
	// Output: 2 projects: the update and the review
}

// TestUpdateRole pins what the update's role may do, statement by statement: assume the three
// bootstrap roles of each account and region it deploys to (the pipeline's, an environment's in
// another account, a replication store's in another region), read its source from the artifact
// bucket, put its one cache object, use the artifact key, write its logs and its report groups,
// and nothing else.
func TestUpdateRole(t *testing.T) {
	app := cdktest.NewApp()
	env := func(account, region string) *awscdk.Environment {
		return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	stack := awscdk.NewStack(app, jsii.String("Pipeline"), &awscdk.StackProps{Env: env(cdktest.Account, "eu-west-1")})
	prod := awscdk.NewStack(app, jsii.String("Prod"), &awscdk.StackProps{Env: env(cdktest.OtherAccount, "eu-west-1")})
	store := awscdk.NewStack(app, jsii.String("Store"), &awscdk.StackProps{Env: env(cdktest.Account, "us-east-1")})
	// A resource each: CloudFormation refuses a template without one (CI lints every template).
	for _, st := range []awscdk.Stack{prod, store} {
		awscdk.NewCfnWaitConditionHandle(st, jsii.String("Placeholder"), nil)
	}
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	update := selfupdate.New(stack, jsii.String("SelfUpdate"), &selfupdate.Props{
		Digest: jsii.String("d1g3st"), Targets: []awscdk.Stack{stack, prod, store, prod}, ArtifactBucket: p.ArtifactBucket, ArtifactKey: p.ArtifactKey,
	})
	source := awscodepipeline.NewArtifact(jsii.String("Source"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("infra"))
	p.AddStage("Source", awscodepipelineactions.NewCodeCommitSourceAction(&awscodepipelineactions.CodeCommitSourceActionProps{
		ActionName: jsii.String("Source"), Repository: repo, Output: source,
	}))
	p.AddStage("SelfUpdate", update.NewAction(source))
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)

	role := func(kind, account, region string) string {
		return fmt.Sprintf("arn:aws:iam::%s:role/cdk-hnb659fds-%s-role-%s-%s", account, kind, account, region)
	}
	var roles []string
	for _, where := range [][2]string{{cdktest.Account, "eu-west-1"}, {cdktest.OtherAccount, "eu-west-1"}, {cdktest.Account, "us-east-1"}} {
		for _, kind := range []string{"deploy", "file-publishing", "lookup"} {
			roles = append(roles, role(kind, where[0], where[1]))
		}
	}
	slices.Sort(roles) // as aws-cdk-lib writes a statement's resources
	project := s.LogicalIDs("AWS::CodeBuild::Project")[0]
	bucket, key, logs := s.LogicalIDs("AWS::S3::Bucket"), s.LogicalIDs("AWS::KMS::Key")[0], s.LogicalIDs("AWS::Logs::LogGroup")[0]
	artifacts := ""
	for _, b := range bucket {
		if strings.Contains(b, "ArtifactBucket") {
			artifacts = b
		}
	}
	getAtt := func(id string) string { return "${" + id + ".Arn}" }
	want := []string{
		"Allow logs:CreateLogStream,logs:PutLogEvents on " + getAtt(logs),
		"Allow logs:CreateLogGroup,logs:CreateLogStream,logs:PutLogEvents on arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/${" + project + "}:*,arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/${" + project + "}",
		"Allow codebuild:BatchPutCodeCoverages,codebuild:BatchPutTestCases,codebuild:CreateReport,codebuild:CreateReportGroup,codebuild:UpdateReport on arn:aws:codebuild:eu-west-1:123456789012:report-group/${" + project + "}-*",
		"Allow kms:Decrypt,kms:DescribeKey,kms:Encrypt,kms:GenerateDataKey*,kms:ReEncrypt* on " + getAtt(key),
		"Allow sts:AssumeRole on " + strings.Join(roles, ","),
		"Allow s3:Abort*,s3:PutObject,s3:PutObjectLegalHold,s3:PutObjectRetention,s3:PutObjectTagging,s3:PutObjectVersionTagging on " + getAtt(artifacts) + "/self-update/cache.tar.gz",
		"Allow s3:GetBucket*,s3:GetObject*,s3:List* on " + getAtt(artifacts) + "," + getAtt(artifacts) + "/*",
	}
	assert.Equal(t, want, statementsOf(t, s, "SelfUpdateProjectRoleDefaultPolicy"), "the update role's statements")

	// The artifact bucket's policy: TLS only, and nobody but the update's role writes or deletes
	// under self-update/, where the cache the update extracts as root lives.
	var bucketPolicy []string
	for _, bp := range s.Resources("AWS::S3::BucketPolicy") {
		props := bp["Properties"].(map[string]any)
		if render(props["Bucket"]) != "${"+artifacts+"}" {
			continue
		}
		for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			statement := st.(map[string]any)
			condition, _ := json.Marshal(statement["Condition"])
			if c, ok := statement["Condition"].(map[string]any)["ArnNotEquals"]; ok {
				condition = []byte(`{"ArnNotEquals":{"aws:PrincipalArn":"` + render(c.(map[string]any)["aws:PrincipalArn"]) + `"}}`)
			}
			bucketPolicy = append(bucketPolicy, fmt.Sprintf("%v %s %s on %s by %s if %s", statement["Sid"], statement["Effect"], render(statement["Action"]),
				render(statement["Resource"]), render(statement["Principal"]), condition))
		}
	}
	assert.Equal(t, []string{
		`<nil> Deny s3:* on ` + getAtt(artifacts) + "," + getAtt(artifacts) + `/* by {"AWS":"*"} if {"Bool":{"aws:SecureTransport":"false"}}`,
		`OnlyTheSelfUpdateWritesItsCache Deny s3:DeleteObject*,s3:PutObject* on ` + getAtt(artifacts) + `/self-update/* by {"AWS":"*"} if {"ArnNotEquals":{"aws:PrincipalArn":"${SelfUpdateProjectRole` + roleSuffix(t, s) + `.Arn}"}}`,
	}, bucketPolicy, "the artifact bucket's policy")

	s.Has(t, "AWS::CodeBuild::Project", map[string]any{
		"Environment": cdktest.ObjectLike(map[string]any{"ComputeType": "BUILD_GENERAL1_MEDIUM", "PrivilegedMode": false,
			"EnvironmentVariables": []any{
				map[string]any{"Name": "CACHE_BUCKET", "Type": "PLAINTEXT", "Value": map[string]any{"Ref": artifacts}},
				map[string]any{"Name": "DEPLOYED_DIGEST", "Type": "PLAINTEXT", "Value": "d1g3st"},
			}}),
		"TimeoutInMinutes": 90,
	})
}

// roleSuffix is the hash at the end of the update role's logical id.
func roleSuffix(t *testing.T, s *cdktest.Synthesized) string {
	t.Helper()
	for _, id := range s.LogicalIDs("AWS::IAM::Role") {
		if rest, ok := strings.CutPrefix(id, "SelfUpdateProjectRole"); ok {
			return rest
		}
	}
	t.Fatal("no update role")
	return ""
}

// statementsOf renders each statement of the policy whose logical id starts with prefix as
// "Effect actions on resources", references as ${id} and ${id.Arn}.
func statementsOf(t *testing.T, s *cdktest.Synthesized, prefix string) []string {
	t.Helper()
	var out []string
	for id, p := range s.Resources("AWS::IAM::Policy") {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		doc := p["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
		for _, st := range doc["Statement"].([]any) {
			statement := st.(map[string]any)
			out = append(out, fmt.Sprintf("%s %s on %s", statement["Effect"], render(statement["Action"]), render(statement["Resource"])))
		}
	}
	require.NotEmpty(t, out, "no policy %s", prefix)
	return out
}

func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = render(p)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			return "${" + ref + "}"
		}
		if att, ok := v["Fn::GetAtt"].([]any); ok {
			return "${" + att[0].(string) + "." + att[1].(string) + "}"
		}
		if join, ok := v["Fn::Join"].([]any); ok {
			var b strings.Builder
			for _, p := range join[1].([]any) {
				b.WriteString(render(p))
			}
			return b.String()
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestNilProps: each required prop, in one line, before anything is created.
func TestNilProps(t *testing.T) {
	stack := cdktest.NewStack("T")
	assert.PanicsWithValue(t, "selfupdate.New: props.Digest is required", func() { selfupdate.New(stack, jsii.String("U"), nil) })
	assert.PanicsWithValue(t, "selfupdate.New: props.Targets is required", func() {
		selfupdate.New(stack, jsii.String("U"), &selfupdate.Props{Digest: jsii.String("d")})
	})
	assert.PanicsWithValue(t, "selfupdate.New: props.ArtifactBucket is required", func() {
		selfupdate.New(stack, jsii.String("U"), &selfupdate.Props{Digest: jsii.String("d"), Targets: []awscdk.Stack{stack}})
	})
	assert.PanicsWithValue(t, "selfupdate.NewReview: props.Repository is required", func() { selfupdate.NewReview(stack, jsii.String("R"), nil) })
	assert.Empty(t, *stack.Node().Children())

	// An imported artifact bucket: its policy, and so who may write the cache, is not the stack's.
	other := cdktest.NewStack("I")
	assert.PanicsWithValue(t, "selfupdate.New: props.ArtifactBucket: the stack cannot change its bucket policy (an imported bucket): the update's cache needs a policy that only the update's role may write it", func() {
		selfupdate.New(other, jsii.String("U"), &selfupdate.Props{Digest: jsii.String("d"), Targets: []awscdk.Stack{other},
			ArtifactBucket: awss3.Bucket_FromBucketName(other, jsii.String("B"), jsii.String("artifacts")),
			ArtifactKey:    awskms.NewKey(other, jsii.String("K"), nil)})
	})
}

// fakes are stand-ins for the commands the update script runs, each logging its command line to
// $CALLS; FAKE_S3_CP=fail makes the cache's download fail, FAKE_CACHE is the archive it gives
// otherwise, FAKE_DEPLOY the deploy's exit code. tar is GNU tar itself ($REAL_TAR), with / (the
// update's -C) made $FAKE_ROOT; it logs its first argument and its long options.
var fakes = map[string]string{
	"aws": `#!/usr/bin/env bash
echo "aws $*" >>"$CALLS"
if [ "$1 $2" = "s3 cp" ] && [ "${3#s3://}" != "$3" ]; then
  [ "${FAKE_S3_CP:-}" != fail ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key \"self-update/cache.tar.gz\" does not exist" >&2; exit 1; }
  cp "$FAKE_CACHE" "$4"
fi
`,
	"npm": "#!/usr/bin/env bash\necho \"npm $*\" >>\"$CALLS\"\n",
	"npx": "#!/usr/bin/env bash\necho \"npx $* GOTOOLCHAIN=${GOTOOLCHAIN:-}\" >>\"$CALLS\"\nexit \"${FAKE_DEPLOY:-0}\"\n",
	"tar": `#!/usr/bin/env bash
line="tar $1" args=()
for a in "$@"; do
  case $a in --?*) line="$line $a" ;; /) a=$FAKE_ROOT ;; esac
  args+=("$a")
done
echo "$line" >>"$CALLS"
exec "$REAL_TAR" "${args[@]}"
`,
}

// entry is one member of a test's cache archive.
type entry struct {
	name, link string
	kind       byte
}

// archive writes a gzip tar archive of entries (a regular file unless kind says otherwise) and
// returns its path.
func archive(t *testing.T, entries ...entry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache.tar.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.kind, Mode: 0o644, Uid: 4242, Gid: 4242}
		if e.kind == 0 {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.name))
		}
		if e.kind == tar.TypeDir {
			h.Mode = 0o755
		}
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(e.name))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return path
}

// goodCache is an archive as the update saves it: the three cache folders.
func goodCache(t *testing.T) string {
	return archive(t, entry{name: "root/.cache/go-mod/", kind: tar.TypeDir}, entry{name: "root/.cache/go-mod/cache/download/x.zip"},
		entry{name: "root/.cache/go-build/", kind: tar.TypeDir}, entry{name: "root/.cache/go-build/00/a-d"},
		entry{name: "root/.npm/", kind: tar.TypeDir}, entry{name: "root/.npm/_cacache/index"})
}

// TestUpdateScript runs the update's buildspec commands, as CodeBuild does (one bash session,
// the digest function first), in checkouts of an app, against stand-ins for aws, npm, npx and tar.
// The digest it compares is the one package seed computes, which the stack carries.
func TestUpdateScript(t *testing.T) {
	bin := t.TempDir()
	for name, body := range fakes {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755))
	}
	spec := *selfupdate.Buildspec()
	commands := spec["phases"].(map[string]any)["build"].(map[string]any)["commands"].([]string)
	require.Len(t, commands, 1, "the digest function and its call in one command: CodeBuild does not carry functions from one command to the next")
	app := func(t *testing.T) string {
		dir := t.TempDir()
		for f, content := range map[string]string{
			"cdk.json": "{}", "go.mod": "module x\n", "package-lock.json": "{}", "main.go": "package main\n",
			"sample-app/main.go": "package main\n", "seed.json": `{"asset":"a","go":"go1.26.8","executables":[]}`,
		} {
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644))
		}
		return dir
	}
	realTar, err := exec.LookPath("tar")
	require.NoError(t, err)
	// root is the file system the update's tar sees as /, with the folders a deploy fills.
	var root string
	run := func(t *testing.T, dir, deployed string, env ...string) (string, []string, int) {
		root = t.TempDir()
		for _, folder := range []string{"root/.cache/go-mod", "root/.cache/go-build", "root/.npm"} {
			require.NoError(t, os.MkdirAll(filepath.Join(root, folder), 0o755))
		}
		calls := filepath.Join(t.TempDir(), "calls")
		// Each command in a shell of its own, as CodeBuild runs them: a function defined in one
		// command is gone in the next.
		cmd := exec.Command("bash", append([]string{"-c", `for c in "$@"; do bash -c "$c" || exit; done`, "codebuild"}, commands...)...)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "CALLS=" + calls, "DEPLOYED_DIGEST=" + deployed, "CACHE_BUCKET=artifacts", "HOME=" + t.TempDir(),
			"REAL_TAR=" + realTar, "FAKE_ROOT=" + root, "FAKE_CACHE=" + goodCache(t)}, env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else {
			require.NoError(t, err)
		}
		logged, _ := os.ReadFile(calls)
		var made []string
		if s := strings.TrimSpace(string(logged)); s != "" {
			made = strings.Split(s, "\n")
		}
		return string(out), made, code
	}

	t.Run("nothing changed outside sample-app", func(t *testing.T) {
		dir := app(t)
		digest, err := seed.Digest(dir, nil)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "sample-app", "main.go"), []byte("package main // changed\n"), 0o644))
		out, calls, code := run(t, dir, digest)
		assert.Equal(t, 0, code, out)
		assert.Empty(t, calls, "no AWS call, no npm, no CDK")
		assert.Equal(t, "self-update: nothing outside sample-app/ changed since the deployed stacks were synthesized (digest "+digest[:12]+"): nothing to deploy\n", out)
	})
	t.Run("the app changed", func(t *testing.T) {
		dir := app(t)
		out, calls, code := run(t, dir, "0000", "FAKE_S3_CP=fail")
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "self-update: the app changed outside sample-app/ (digest 0000 deployed, ")
		assert.Contains(t, out, "self-update: no cache yet")
		assert.Equal(t, []string{
			"aws s3 cp s3://artifacts/self-update/cache.tar.gz " + calls[0][len("aws s3 cp s3://artifacts/self-update/cache.tar.gz "):],
			"npm ci --no-audit --no-fund",
			"npx cdk deploy --all --require-approval never --progress events GOTOOLCHAIN=go1.26.8",
			"tar -czf",
		}, calls[:4], "the deploy with the Go of the first deploy, then the caches saved")
		assert.True(t, strings.HasPrefix(calls[4], "aws s3 cp "), calls)
		assert.True(t, strings.HasSuffix(calls[4], " s3://artifacts/self-update/cache.tar.gz --only-show-errors"), calls)
	})
	t.Run("the deploy fails", func(t *testing.T) {
		out, calls, code := run(t, app(t), "0000", "FAKE_DEPLOY=1")
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "self-update: restored the Go and npm caches")
		assert.Contains(t, calls, "tar -xzf --no-same-owner --no-same-permissions", "extracted as root, owned by root")
		assert.FileExists(t, filepath.Join(root, "root/.npm/_cacache/index"))
		assert.FileExists(t, filepath.Join(root, "root/.cache/go-build/00/a-d"))
		assert.Contains(t, calls, "tar -czf", "the caches are saved all the same")
	})
	// A cache another principal wrote would run its code as root, and in go, npm and npx with
	// the bootstrap roles: anything but files and folders below the cache folders is refused
	// before a byte is extracted, and the deploy goes on without the cache.
	for name, c := range map[string]struct {
		entries []entry
		reason  string
	}{
		"a symbolic link": {[]entry{{name: "root/.npm/bin", link: "/usr/local/bin", kind: tar.TypeSymlink}}, "it holds a link or a special file: lrw-r--r-- "},
		"a hard link":     {[]entry{{name: "root/.npm/passwd", link: "etc/passwd", kind: tar.TypeLink}}, "it holds a link or a special file: hrw-r--r-- "},
		"a device":        {[]entry{{name: "root/.npm/mem", kind: tar.TypeChar}}, "it holds a link or a special file: crw-r--r-- "},
		"an absolute path": {[]entry{{name: "/etc/cron.d/evil"}},
			"it holds an absolute path or ..: /etc/cron.d/evil"},
		"a dot-dot": {[]entry{{name: "root/.npm/../../usr/local/bin/go"}},
			"it holds an absolute path or ..: root/.npm/../../usr/local/bin/go"},
		"another folder": {[]entry{{name: "root/.bashrc"}},
			"it holds a file outside root/.cache/go-mod root/.cache/go-build root/.npm: root/.bashrc"},
		"a folder named like a cache folder": {[]entry{{name: "root/.npmrc"}},
			"it holds a file outside root/.cache/go-mod root/.cache/go-build root/.npm: root/.npmrc"},
		"no archive": {nil, "it is no gzip tar archive"},
	} {
		t.Run("a cache with "+name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "cache.tar.gz")
			if c.entries == nil {
				require.NoError(t, os.WriteFile(bad, []byte("not an archive"), 0o644))
			} else {
				bad = archive(t, append([]entry{{name: "root/.npm/_cacache/index"}}, c.entries...)...)
			}
			out, calls, code := run(t, app(t), "0000", "FAKE_CACHE="+bad)
			assert.Equal(t, 0, code, out)
			assert.Contains(t, out, "self-update: refused the cache ("+c.reason, out)
			assert.Contains(t, out, "): this deploy downloads and compiles everything\n")
			assert.NotContains(t, calls, "tar -xzf --no-same-owner --no-same-permissions", "nothing extracted")
			assert.NoFileExists(t, filepath.Join(root, "root/.npm/_cacache/index"), "not even the good members")
			assert.Contains(t, calls, "npx cdk deploy --all --require-approval never --progress events GOTOOLCHAIN=go1.26.8", "the deploy goes on")
		})
	}
	t.Run("no app at the root", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "buildspec.yml"), []byte("version: 0.2\n"), 0o644))
		out, calls, code := run(t, dir, "0000")
		assert.Equal(t, 1, code)
		assert.Empty(t, calls)
		assert.Equal(t, "self-update: the repository holds no CDK app at its root (cdk.json, go.mod, package-lock.json, sample-app/): push this pipeline's app there first, see docs/self-update.md\n", out,
			"one clear line")
	})
}

// TestReviewCommands runs the review's commands in clones whose target commit has, or has not,
// scripts/pr-diff: the target's script runs, never the pull request's.
func TestReviewCommands(t *testing.T) {
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return strings.TrimSpace(string(out))
	}
	dir := t.TempDir()
	git(dir, "init", "-q")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("x\n"), 0o644))
	git(dir, "add", ".")
	git(dir, "commit", "-qm", "no script")
	bare := git(dir, "rev-parse", "HEAD")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "scripts"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scripts", "pr-diff"), []byte(`echo "target's pr-diff $*"`), 0o644))
	git(dir, "add", ".")
	git(dir, "commit", "-qm", "the script")
	target := git(dir, "rev-parse", "HEAD")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scripts", "pr-diff"), []byte(`echo "the pull request's pr-diff"`), 0o644))

	run := func(destination string) (string, error) {
		cmd := exec.Command("bash", "-c", strings.Join(selfupdate.ReviewCommands, " &&\n"))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DESTINATION_COMMIT="+destination, "CODEBUILD_SRC_DIR="+dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(target)
	require.NoError(t, err, out)
	assert.Equal(t, "target's pr-diff "+target+" .review/comment.md\n", out)
	out, err = run(bare)
	assert.Error(t, err)
	assert.Equal(t, "review: the target branch has no scripts/pr-diff: merge this pipeline's app into it first (docs/self-update.md)\n", out)
}
