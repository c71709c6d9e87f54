package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/restart-trigger/restart-trigger/sdk/go/alirestart"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		// Change `hash` (say, to a digest of the applications' configuration files) and
		// `pulumi up` restarts every target once; an unchanged `pulumi up` restarts nothing.
		hash := config.Get(ctx, "hash")
		if hash == "" {
			hash = "v1"
		}
		// The demo applications of emulator/seeds/demo.json: one target of each kind. Go does
		// not fill a const: set Kind on each target.
		web, err := alirestart.NewRestartTrigger(ctx, "web", &alirestart.RestartTriggerArgs{
			Hash: pulumi.String(hash),
			Targets: pulumi.Array{
				alirestart.EdasApplicationArgs{
					Kind:  pulumi.String("edas"),
					AppId: pulumi.String("demo-app-0001-0000-0000-000000000001"),
				},
				alirestart.WebPlusEnvironmentArgs{
					Kind:      pulumi.String("webplus"),
					EnvId:     pulumi.String("we-demo0000000000000000001"),
					BatchSize: pulumi.Int(1),
				},
				alirestart.SaeApplicationArgs{
					Kind:  pulumi.String("sae"),
					AppId: pulumi.String("5ae0de00-0000-4000-8000-000000000001"),
				},
			},
		})
		if err != nil {
			return err
		}
		ctx.Export("changeOrderIds", web.ChangeOrderIds)
		ctx.Export("statuses", web.Statuses)
		ctx.Export("owed", web.Owed)
		return nil
	})
}
