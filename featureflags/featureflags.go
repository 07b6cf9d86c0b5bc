// Package featureflags gives another CDK app the feature flags this project's cdk.json sets, so
// that the constructs synthesize there what they synthesize here.
//
// aws-cdk-lib reads a feature flag from the app's context: `cdk init` writes the flags of the CLI's
// version into cdk.json, and an app without them keeps aws-cdk-lib's old behaviour. The constructs
// are written and tested with this project's flags; without them, a fleet's VPC keeps its default
// security group's rules (@aws-cdk/aws-ec2:restrictDefaultSecurityGroup), for example. Pass Context
// to the app:
//
//	ctx := featureflags.Context()
//	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
//
// A flag in the app's own cdk.json (or -c on the command line) takes precedence over AppProps.Context;
// to make this project's flags win over those too, pass them as AppProps.PostCliContext.
package featureflags

//go:generate go run gen.go

// Context returns a new map of every feature flag in this project's cdk.json (the context keys
// that begin with "@aws-cdk"), with cdk.json's values. It is generated from cdk.json (go generate
// ./featureflags), and TestContextIsCDKJSONs fails when the two differ.
func Context() map[string]any {
	return flags()
}
