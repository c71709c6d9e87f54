import * as pulumi from "@pulumi/pulumi";
import * as alirestart from "@restart-trigger/alirestart";

// Change `hash` (say, to a digest of the applications' configuration files) and `pulumi up`
// restarts every target once; an unchanged `pulumi up` restarts nothing.
const config = new pulumi.Config();
const hash = config.get("hash") ?? "v1";

// The demo applications of emulator/seeds/demo.json: one target of each kind.
const web = new alirestart.RestartTrigger("web", {
    hash,
    targets: [
        { kind: "edas", appId: "demo-app-0001-0000-0000-000000000001" },
        { kind: "webplus", envId: "we-demo0000000000000000001", batchSize: 1 },
        { kind: "sae", appId: "5ae0de00-0000-4000-8000-000000000001" },
    ],
});

export const changeOrderIds: pulumi.Output<{ [key: string]: string }> = web.changeOrderIds;
export const statuses: pulumi.Output<{ [key: string]: string }> = web.statuses;
export const owed: pulumi.Output<string[]> = web.owed;
