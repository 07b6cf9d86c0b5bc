package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	appseed "github.com/pipekit/cdk-pipeline/constructs/selfupdate/seed"
	"github.com/pipekit/cdk-pipeline/settings"
)

// checkPlan checks the plan the real run prints against the stack the dry run synthesized with the
// real run's settings: every resource type counted or listed as free, the fleet, the bake.
func checkPlan(t *testing.T, s *synthesis, p Plan) {
	t.Helper()
	counts := map[string]int{}
	for _, r := range s.resources {
		counts[r["Type"].(string)]++
	}
	for _, r := range p.Costed {
		assert.Equal(t, counts[r.Type], r.Count, "the plan's count of %s", r.Type)
	}
	for _, typ := range sortedKeys(counts) {
		assert.True(t, slices.ContainsFunc(p.Costed, func(r Resource) bool { return r.Type == typ }) || slices.Contains(p.Free, typ),
			"the plan says nothing of the stack's %d %s", counts[typ], typ)
	}
	for _, typ := range p.Free {
		assert.Contains(t, counts, typ, "the plan lists %s, which the stack does not have", typ)
	}
	fleet := Instances{}
	for _, r := range s.resources {
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::EC2::LaunchTemplate":
			data := props["LaunchTemplateData"].(map[string]any)
			fleet.Type = fmt.Sprint(data["InstanceType"])
			for _, m := range data["BlockDeviceMappings"].([]any) {
				fmt.Sscan(fmt.Sprint(m.(map[string]any)["Ebs"].(map[string]any)["VolumeSize"]), &fleet.VolumeGiB)
			}
		case "AWS::AutoScaling::AutoScalingGroup":
			var low, high int
			fmt.Sscan(fmt.Sprint(props["MinSize"]), &low)
			fmt.Sscan(fmt.Sprint(props["MaxSize"]), &high)
			assert.Equal(t, low, high, "a fleet of fixed size")
			fleet.Count = high
		case "AWS::CodePipeline::Pipeline":
			for _, st := range props["Stages"].([]any) {
				stage := st.(map[string]any)
				success, _ := stage["OnSuccess"].(map[string]any)
				conditions, _ := success["Conditions"].([]any)
				for _, c := range conditions {
					for _, rule := range c.(map[string]any)["Rules"].([]any) {
						wait := rule.(map[string]any)["Configuration"].(map[string]any)["WaitTime"]
						assert.Equal(t, fmt.Sprint(p.BakeMinutes), fmt.Sprint(wait), "the bake of stage %v", stage["Name"])
					}
				}
			}
		}
	}
	assert.Equal(t, p.Instances, fleet)
	// -delete-retained deletes what the stack retains: each retained type has a deleter.
	for id, r := range s.resources {
		if retained(r) {
			assert.True(t, slices.ContainsFunc(deleters, func(d deleter) bool { return d.resourceType == r["Type"] }), "the stack retains %s, a %s that -delete-retained does not delete", id, r["Type"])
		}
	}
}

// checkSeed checks the layout against the seed the stack synthesized: every file of the seed asset
// is the file Layout.Local names in this checkout, and the files the flow changes are in the seed.
// A self-updating pipeline's seed is what package seed keeps of this checkout, with the deploy's
// -c values in its cdk.json, and its record.
func checkSeed(t *testing.T, s *synthesis, c Config) {
	t.Helper()
	require.NotEmpty(t, s.seedAsset)
	if c.SelfUpdate {
		kept, err := appseed.List(c.Root)
		require.NoError(t, err)
		seeded, err := appseed.List(s.seedAsset)
		require.NoError(t, err)
		assert.Equal(t, slices.Sorted(slices.Values(append(kept, appseed.RecordFile))), seeded, "the seed is the app as it deploys, and its record")
		var config struct{ Context map[string]any }
		b, err := os.ReadFile(filepath.Join(s.seedAsset, "cdk.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &config))
		seededSettings, err := settings.Parse(config.Context)
		require.NoError(t, err)
		assert.True(t, seededSettings.SelfUpdate, "the seeded cdk.json carries the deploy's -c values")
		assert.False(t, seededSettings.Approval)
		assert.Equal(t, "e2e-"+c.Suffix, seededSettings.RepositoryName)
	}
	var files []string
	require.NoError(t, filepath.WalkDir(s.seedAsset, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(s.seedAsset, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files = append(files, rel)
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if c.SelfUpdate && (rel == "cdk.json" || rel == appseed.RecordFile) {
			return nil // made for the seed: above
		}
		want, err := os.ReadFile(filepath.Join(c.Root, filepath.FromSlash(c.Layout.Local(rel))))
		if assert.NoError(t, err, "the seed's %s is not this checkout's %s", rel, c.Layout.Local(rel)) {
			assert.Equal(t, string(want), string(got), "the seed's %s", rel)
		}
		return nil
	}))
	unit, err := c.Layout.Path(UnitFile)
	require.NoError(t, err)
	assert.Contains(t, files, unit, "the unit the flow breaks is in the seed")
	change, err := c.Layout.Path(ChangeFile)
	require.NoError(t, err)
	assert.NotContains(t, files, change, "the file the flow adds is new")
}

// TestPlanDescribe: what the real run prints first.
func TestPlanDescribe(t *testing.T) {
	out := Default.Describe(stack, RealConfig("", false).Limits.Longest())
	assert.Contains(t, out, "Expected duration: about 1h37m0s; the waits give up after 3h10m0s in all")
	assert.Contains(t, out, " 2 x AWS::CodeBuild::Project ")
	assert.Contains(t, out, "a fleet of 2 EC2 t3.micro instances (16 GiB gp3 each)")
}
