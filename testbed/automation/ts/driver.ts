// A TypeScript stack on the generated SDK run through the Automation API's inline program
// (no Node.js language host). See ../README.md for the environment it reads.
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import * as alirestart from "@restart-trigger/alirestart";

type Spec = { hash: string; targets: { kind: string; id: string }[]; maxFailures?: number };
type Target =
    | alirestart.types.input.EdasApplicationArgs
    | alirestart.types.input.WebPlusEnvironmentArgs
    | alirestart.types.input.SaeApplicationArgs;

function env(name: string): string {
    const value = process.env[name];
    if (!value) {
        throw new Error(`${name} is not set`);
    }
    return value;
}

// Typed targets: each kind is its own member of the SDK's discriminated union.
function target(t: { kind: string; id: string }): Target {
    switch (t.kind) {
        case "edas":
            return { kind: "edas", appId: t.id };
        case "webplus":
            return { kind: "webplus", envId: t.id };
        case "sae":
            return { kind: "sae", appId: t.id };
        default:
            throw new Error(`unknown kind ${t.kind}`);
    }
}

async function main(): Promise<void> {
    const step = env("AR_STEP");
    const spec: Spec = JSON.parse(env("AR_TRIGGER"));
    const endpoint = env("AR_EMULATOR_URL");

    const program = async () => {
        const trigger = new alirestart.RestartTrigger("web", {
            hash: spec.hash,
            targets: spec.targets.map(target),
            maxFailures: spec.maxFailures,
        });
        const ids: pulumi.Output<{ [key: string]: string }> = trigger.changeOrderIds;
        const statuses: pulumi.Output<{ [key: string]: string }> = trigger.statuses;
        const owed: pulumi.Output<string[]> = trigger.owed;
        const restartedHash: pulumi.Output<string> = trigger.restartedHash;
        // What the program itself sees, through the SDK's types.
        const typed = pulumi.all([ids, statuses, owed, restartedHash]).apply(([i, s, o, h]) => ({
            keys: Object.keys(i).sort(),
            idsAreStrings: Object.values(i).every((v) => typeof v === "string" && v !== ""),
            statuses: s,
            owed: [...o].sort(),
            restartedHash: h,
        }));
        return { changeOrderIds: ids, statuses, owed, restartedHash, typed };
    };

    const pulumiCommand = await PulumiCommand.get({ root: env("AR_PULUMI_ROOT") });
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: env("AR_STACK"), projectName: env("AR_PROJECT"), program },
        {
            workDir: env("AR_WORK_DIR"),
            pulumiCommand,
            secretsProvider: "passphrase",
            projectSettings: { name: env("AR_PROJECT"), runtime: "nodejs" },
        },
    );
    await stack.setAllConfig({
        "alirestart:region": { value: env("AR_REGION") },
        "alirestart:accessKey": { value: env("AR_ACCESS_KEY") },
        "alirestart:secretKey": { value: env("AR_SECRET_KEY"), secret: true },
        "alirestart:endpoints": {
            value: JSON.stringify([{ edas: endpoint, webplus: endpoint, sae: endpoint }]),
        },
    });

    const onOutput = (line: string) => process.stderr.write(line);
    const result: Record<string, unknown> = { step, ok: true };
    try {
        if (step === "preview") {
            const preview = await stack.preview({ onOutput });
            result.changes = preview.changeSummary;
        } else if (step === "up") {
            const up = await stack.up({ onOutput });
            result.changes = up.summary.resourceChanges ?? {};
            const outputs: Record<string, unknown> = {};
            for (const [key, out] of Object.entries(up.outputs)) {
                outputs[key] = out.value;
            }
            result.outputs = outputs;
            result.typed = outputs.typed;
        } else {
            throw new Error(`unknown step ${step}`);
        }
    } catch (err) {
        result.ok = false;
        result.error = err instanceof Error ? err.message : String(err);
    }
    console.log(JSON.stringify(result));
    process.exitCode = result.ok ? 0 : 2;
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
