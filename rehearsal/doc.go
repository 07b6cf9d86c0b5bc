// Package rehearsal plays, offline and in go test, the hand-offs that AWS performs when the
// pipeline runs, with the sample app's real buildspec.yml, appspec.yml and hook scripts, and the
// stack that main.go synthesizes with the default settings (one synth, the app built and run in its
// own process, so that this package's tests link no CDK):
//
//   - The stack: the pipeline's Build action runs a project that reads the repository's
//     buildspec.yml (no Source.BuildSpec), on an image whose Go runtimes the rehearsal knows;
//     the pull-request checks select the same Go; the Deploy action's deployment group rolls back
//     on failure, behind a target group whose health check (path, port, codes, thresholds) the
//     rehearsal plays.
//   - Seed: CloudFormation seeds the CodeCommit repository from the source asset: the folder the
//     CDK staged in the cloud assembly, with the asset's excludes applied, every file mode
//     dropped to 0644 (aws-cdk issue 24083).
//   - CodeBuild: the buildspec's runtime-versions select the image's Go (standard:7.0's goenv
//     versions); the rehearsal needs this machine's Go to have the same minor version, and checks
//     the build log's `go version`. The phases run in order in one bash session, in a checkout
//     where every file is 0644, with the image's layout (HOME=/root, GOPATH=/go, mapped into a
//     temporary folder) and the CODEBUILD_* variables the project sees. Reports and artifacts are
//     resolved as CodeBuild does, and the artifact is zipped without file modes. A second build
//     restores only the buildspec's cache paths and runs with GOPROXY=off: it must download
//     nothing.
//   - CodeDeploy: an instance in its own user, mount and network namespaces (unshare
//     --map-root-user, so any user can run it), whose /etc is a private overlay with a fresh
//     Amazon Linux's accounts, and whose /opt and /etc/systemd/system are temporary folders. Its
//     agent (agent_test.go) plays aws-codedeploy-agent's in-place lifecycle: ApplicationStop from
//     the last revision whose Install succeeded, the bundle unzipped, the previous install's files
//     removed and the new ones copied with appspec.yml's permissions, each hook run as the agent
//     runs it (su <runas> -c, its own process group, output through pipes, one deadline for the
//     exit and for closing stdout and stderr), and AllowTraffic as the load balancer's health
//     checks of the running app.
//   - The releases: two good ones, one whose app exits, one that starts but answers 503 on its
//     health path and whose application_stop.sh fails, CodeDeploy's rollbacks after each, and an
//     operator's redeploy that ignores ApplicationStop failures.
//
// docs/runtime.md lists what is emulated, from which source, and what is not: systemd is not
// PID 1 (testdata/shims stands in for systemctl and journalctl, and for su, since the namespace
// maps one user id: no process changes user); validate_service.sh's pause and budget and the
// health checks' interval are shortened; the build uses this machine's Go and build cache.
package rehearsal
