// Package rehearsal plays, offline and in go test, the hand-offs that AWS performs when the
// pipeline runs, with the sample app's real buildspec.yml, appspec.yml and hook scripts:
//
//   - Seed: CloudFormation seeds the CodeCommit repository from the source asset, with the
//     asset's excludes applied and every file mode dropped to 0644 (aws-cdk issue 24083).
//   - CodeBuild: the buildspec's phases run in order in one bash session, in a checkout where
//     every file is 0644, with the standard:7.0 image's layout (HOME=/root, GOPATH=/go, mapped
//     into a temporary folder) and the CODEBUILD_* variables the project sees. Reports and
//     artifacts are resolved as CodeBuild does (files globs, base-directory, discard-paths), and
//     the artifact is zipped without file modes. A second build restores only the buildspec's
//     cache paths and runs with GOPROXY=off: it must download nothing.
//   - CodeDeploy: the bundle is unzipped as the agent does (system unzip), and each deployment
//     runs the lifecycle as the agent (aws-codedeploy-agent 1.8) does: ApplicationStop from the
//     last successful revision, BeforeInstall, the files copied and appspec.yml's permissions
//     applied, AfterInstall, ApplicationStart, ValidateService, each hook made executable if it is
//     not, with its timeout. It runs in private mount and network namespaces, so that /opt and
//     /etc/systemd/system are temporary folders and port 8080 is private.
//   - The app: the built binary is started by the systemctl stand-in, ValidateService checks it,
//     a broken release fails ValidateService within its budget and prints its diagnostics, and
//     the rollback deployment brings the previous release back.
//
// What it skips, because this machine is not an EC2 instance: systemd is not PID 1, so
// testdata/shims stands in for systemctl, journalctl, useradd and id (the service runs as root,
// without the unit's sandboxing); validate_service.sh pauses 0.2 s between tries instead of 2 s;
// the build uses this machine's Go and Go build cache (the image's
// Go is 1.20, the app declares go 1.20, and the build cache changes speed only); the load balancer
// and the Auto Scaling lifecycle hook are not involved.
package rehearsal
