package dora

import (
	"sort"
)

// Totals are one environment's measures over a history: the replay command's output, and what the
// dashboard shows over its time range.
type Totals struct {
	// Deployments are successful deployments (a rollback's included).
	Deployments int `json:"deployments"`
	// DeploymentDays are the UTC days with at least one.
	DeploymentDays int `json:"deploymentDays"`
	// FailedAttempts are deploys that failed.
	FailedAttempts int `json:"failedAttempts"`
	// DeploySuccessRate is Deployments over all attempts, 0 to 1.
	DeploySuccessRate float64 `json:"deploySuccessRate"`
	// FailedDeployments are deployments that failed afterwards.
	FailedDeployments int `json:"failedDeployments"`
	// ChangeFailureRate is their share of Deployments, 0 to 1.
	ChangeFailureRate float64 `json:"changeFailureRate"`
	// ReworkDeployments are rollbacks and deployments made while a failure was open.
	ReworkDeployments int `json:"reworkDeployments"`
	// ReworkRate is their share of Deployments, 0 to 1.
	ReworkRate float64 `json:"reworkRate"`
	// LeadTimeMinutes are the lead time samples, in the order they happened.
	LeadTimeMinutes []float64 `json:"leadTimeMinutes"`
	// PipelineLeadTimeMinutes are the pipeline lead time samples.
	PipelineLeadTimeMinutes []float64 `json:"pipelineLeadTimeMinutes"`
	// RecoveryMinutes are the failed deployment recovery time samples.
	RecoveryMinutes []float64 `json:"recoveryMinutes"`
}

// Summarize adds the samples up per stage; every stage has totals, zero when nothing happened.
func Summarize(stages []string, samples []Sample) map[string]*Totals {
	sorted := append([]Sample(nil), samples...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.Before(sorted[j].Time)
		}
		return sorted[i].Value < sorted[j].Value
	})
	out := map[string]*Totals{}
	for _, stage := range stages {
		out[stage] = &Totals{LeadTimeMinutes: []float64{}, PipelineLeadTimeMinutes: []float64{}, RecoveryMinutes: []float64{}}
	}
	for _, s := range sorted {
		t := out[s.Stage]
		if t == nil {
			continue
		}
		switch s.Metric {
		case Deployments:
			t.Deployments++
		case DeploymentDays:
			t.DeploymentDays++
		case FailedAttempts:
			t.FailedAttempts++
		case FailedDeployments:
			t.FailedDeployments++
		case ReworkDeployments:
			t.ReworkDeployments++
		case LeadTime:
			t.LeadTimeMinutes = append(t.LeadTimeMinutes, s.Value/60)
		case PipelineLeadTime:
			t.PipelineLeadTimeMinutes = append(t.PipelineLeadTimeMinutes, s.Value/60)
		case RecoveryTime:
			t.RecoveryMinutes = append(t.RecoveryMinutes, s.Value/60)
		}
	}
	for _, t := range out {
		if t.Deployments > 0 {
			t.ChangeFailureRate = float64(t.FailedDeployments) / float64(t.Deployments)
			t.ReworkRate = float64(t.ReworkDeployments) / float64(t.Deployments)
		}
		if n := t.Deployments + t.FailedAttempts; n > 0 {
			t.DeploySuccessRate = float64(t.Deployments) / float64(n)
		}
	}
	return out
}
