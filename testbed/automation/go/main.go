// A Go stack on the generated SDK run through the Automation API's inline program (no Go
// language host). See ../README.md for the environment it reads.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/restart-trigger/restart-trigger/sdk/go/alirestart"
)

type spec struct {
	Hash    string `json:"hash"`
	Targets []struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"targets"`
	MaxFailures *int `json:"maxFailures"`
}

func env(name string) string {
	value := os.Getenv(name)
	if value == "" {
		fmt.Fprintf(os.Stderr, "%s is not set\n", name)
		os.Exit(1)
	}
	return value
}

// Typed targets: each kind has its own args type (Kind is set by hand: Go does not fill a const).
func targets(s spec) (pulumi.Array, error) {
	out := pulumi.Array{}
	for _, t := range s.Targets {
		switch t.Kind {
		case "edas":
			out = append(out, alirestart.EdasApplicationArgs{
				Kind: pulumi.String("edas"), AppId: pulumi.String(t.ID),
			})
		case "webplus":
			out = append(out, alirestart.WebPlusEnvironmentArgs{
				Kind: pulumi.String("webplus"), EnvId: pulumi.String(t.ID),
			})
		case "sae":
			out = append(out, alirestart.SaeApplicationArgs{
				Kind: pulumi.String("sae"), AppId: pulumi.String(t.ID),
			})
		default:
			return nil, fmt.Errorf("unknown kind %q", t.Kind)
		}
	}
	return out, nil
}

type typedView struct {
	Keys          []string          `json:"keys"`
	IdsAreStrings bool              `json:"idsAreStrings"`
	Statuses      map[string]string `json:"statuses"`
	Owed          []string          `json:"owed"`
	RestartedHash string            `json:"restartedHash"`
}

func main() {
	step := env("AR_STEP")
	var s spec
	if err := json.Unmarshal([]byte(env("AR_TRIGGER")), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	endpoint := env("AR_EMULATOR_URL")

	program := func(ctx *pulumi.Context) error {
		list, err := targets(s)
		if err != nil {
			return err
		}
		args := &alirestart.RestartTriggerArgs{Hash: pulumi.String(s.Hash), Targets: list}
		if s.MaxFailures != nil {
			args.MaxFailures = pulumi.IntPtr(*s.MaxFailures)
		}
		trigger, err := alirestart.NewRestartTrigger(ctx, "web", args)
		if err != nil {
			return err
		}
		var ids pulumi.StringMapOutput = trigger.ChangeOrderIds
		var statuses pulumi.StringMapOutput = trigger.Statuses
		var owed pulumi.StringArrayOutput = trigger.Owed
		var restartedHash pulumi.StringOutput = trigger.RestartedHash
		// What the program itself sees, through the SDK's types.
		typed := pulumi.All(ids, statuses, owed, restartedHash).ApplyT(
			func(all []any) (map[string]any, error) {
				view := typedView{
					Keys:          []string{},
					IdsAreStrings: true,
					Statuses:      all[1].(map[string]string),
					Owed:          append([]string{}, all[2].([]string)...),
					RestartedHash: all[3].(string),
				}
				for key, id := range all[0].(map[string]string) {
					view.Keys = append(view.Keys, key)
					view.IdsAreStrings = view.IdsAreStrings && id != ""
				}
				sort.Strings(view.Keys)
				sort.Strings(view.Owed)
				raw, err := json.Marshal(view)
				if err != nil {
					return nil, err
				}
				var out map[string]any
				return out, json.Unmarshal(raw, &out)
			})
		ctx.Export("changeOrderIds", ids)
		ctx.Export("statuses", statuses)
		ctx.Export("owed", owed)
		ctx.Export("restartedHash", restartedHash)
		ctx.Export("typed", typed)
		return nil
	}

	ctx := context.Background()
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: env("AR_PULUMI_ROOT")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project := env("AR_PROJECT")
	stack, err := auto.UpsertStackInlineSource(ctx, env("AR_STACK"), project, program,
		auto.WorkDir(env("AR_WORK_DIR")),
		auto.Pulumi(cmd),
		auto.SecretsProvider("passphrase"),
		auto.Project(workspace.Project{
			Name:    tokens.PackageName(project),
			Runtime: workspace.NewProjectRuntimeInfo("go", nil),
		}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	endpoints, _ := json.Marshal([]map[string]string{
		{"edas": endpoint, "webplus": endpoint, "sae": endpoint},
	})
	err = stack.SetAllConfig(ctx, auto.ConfigMap{
		"alirestart:region":    {Value: env("AR_REGION")},
		"alirestart:accessKey": {Value: env("AR_ACCESS_KEY")},
		"alirestart:secretKey": {Value: env("AR_SECRET_KEY"), Secret: true},
		"alirestart:endpoints": {Value: string(endpoints)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	result := map[string]any{"step": step, "ok": true}
	switch step {
	case "preview":
		var preview auto.PreviewResult
		preview, err = stack.Preview(ctx, optpreview.ProgressStreams(os.Stderr))
		if err == nil {
			result["changes"] = preview.ChangeSummary
		}
	case "up":
		var up auto.UpResult
		up, err = stack.Up(ctx, optup.ProgressStreams(os.Stderr))
		if err == nil {
			changes := map[string]int{}
			if up.Summary.ResourceChanges != nil {
				changes = *up.Summary.ResourceChanges
			}
			outputs := map[string]any{}
			for key, out := range up.Outputs {
				outputs[key] = out.Value
			}
			result["changes"] = changes
			result["outputs"] = outputs
			result["typed"] = outputs["typed"]
		}
	default:
		err = fmt.Errorf("unknown step %q", step)
	}
	if err != nil {
		result["ok"] = false
		result["error"] = err.Error()
	}
	line, _ := json.Marshal(result)
	fmt.Println(string(line))
	if err != nil {
		os.Exit(2)
	}
}
