// Command python-host-shim lets the pinned v3.259 engine drive the v3.79 Python language host
// (see tools/pulumi-language-python/go.mod for why the host is that old) with the project's
// runtime options, as the official CLI does. scripts/ensure-pulumi.sh installs it twice:
//
//	bin/pulumi-language-python          language-host mode
//	bin/pulumi-resource-pulumi-python   dynamic-provider launcher mode
//
// and moves the programs they stand in for to ../libexec.
//
// Language-host mode. Since v3.80 the engine starts the language host with only the engine
// address and sends Pulumi.yaml's `runtime.options` (and the project root) inside each gRPC
// request (ProgramInfo). The v3.79 host ignores those fields: it reads the options once, from
// command-line flags (`-virtualenv=…`, `-root=…`), which older engines passed. Without them it
// runs the program with whatever `python3` is on PATH. The shim loads the nearest Pulumi.yaml (or
// PulumiPlugin.yaml) from its working directory, which the engine sets to the program folder,
// with the v3.259 workspace package, the same loader the CLI uses, and execs the real host with
// the flags it understands. The real host then resolves a relative `virtualenv` against the
// project root, as the official host does.
//
// With a virtualenv set, PULUMI_PYTHON_CMD is dropped before the host starts, as the official
// pip toolchain ignores it then (the v3.79 host would join it onto the virtualenv's bin folder).
//
// Dynamic-provider launcher mode. The engine starts the dynamic provider in the program folder
// with the options as PULUMI_RUNTIME_<OPTION> variables, and the official launcher script
// resolves a relative PULUMI_RUNTIME_VIRTUALENV against its working directory: right when the
// program is in the project root, wrong when Pulumi.yaml's `main` points to a subfolder. The
// shim makes it absolute against the project root, then execs the official script unchanged.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

const (
	hostName     = "pulumi-language-python"
	providerName = "pulumi-resource-pulumi-python"
	executorName = "pulumi-language-python-exec"
)

func main() {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		fail("cannot locate own executable: %v", err)
	}
	bin := filepath.Dir(self)
	libexec := filepath.Join(filepath.Dir(bin), "libexec")

	switch filepath.Base(os.Args[0]) {
	case providerName:
		launchProvider(filepath.Join(libexec, providerName))
	default:
		launchHost(filepath.Join(libexec, hostName), filepath.Join(bin, executorName))
	}
}

// launchHost execs the v3.79 language host with the flags for the project around the working
// directory, followed by the engine's own arguments (flags first, engine address last).
func launchHost(realHost, executor string) {
	args := []string{realHost, "-use-executor=" + executor}
	if cwd, err := os.Getwd(); err == nil {
		flags := projectFlags(cwd)
		args = append(args, flags...)
		if hasVirtualenv(flags) {
			// The official pip toolchain runs the virtualenv's python whatever PULUMI_PYTHON_CMD
			// says (sdk/python/toolchain/pip.go, Command); the v3.79 host would join the
			// variable's value onto the virtualenv's bin folder instead.
			os.Unsetenv("PULUMI_PYTHON_CMD")
		}
	}
	args = append(args, os.Args[1:]...)
	execOrFail(realHost, args)
}

func hasVirtualenv(flags []string) bool {
	for _, flag := range flags {
		if strings.HasPrefix(flag, "-virtualenv=") {
			return true
		}
	}
	return false
}

// projectFlags returns `-root` and `-virtualenv` for the project (or plugin) enclosing dir, or
// nothing when there is none (`pulumi about` outside a project, for example).
func projectFlags(dir string) []string {
	proj, path, err := workspace.LoadBaseProjectFrom(dir)
	if err != nil {
		if !errors.Is(err, workspace.ErrBaseProjectNotFound) {
			warn("could not load the project around %s, ignoring its runtime options: %v", dir, err)
		}
		return nil
	}
	runtime := proj.RuntimeInfo()
	if runtime == nil || runtime.Name() != "python" {
		return nil
	}
	root := filepath.Dir(path)
	flags := []string{"-root=" + root}
	opts := runtime.Options()
	if tc, ok := opts["toolchain"].(string); ok && tc != "" && tc != "pip" {
		warn("%s: runtime option toolchain=%q is not supported by this build of the Python "+
			"language host (pip only); set `virtualenv` instead", path, tc)
	}
	switch venv := opts["virtualenv"].(type) {
	case nil:
	case string:
		if venv != "" {
			flags = append(flags, "-virtualenv="+venv)
		}
	default:
		warn("%s: runtime option virtualenv must be a string, got %v", path, venv)
	}
	return flags
}

// launchProvider execs the official dynamic-provider launcher with PULUMI_RUNTIME_VIRTUALENV
// made absolute against the project root.
func launchProvider(script string) {
	venv := os.Getenv("PULUMI_RUNTIME_VIRTUALENV")
	if venv != "" && !filepath.IsAbs(venv) {
		if cwd, err := os.Getwd(); err == nil {
			if path, err := workspace.DetectProjectPathFrom(cwd); err == nil {
				os.Setenv("PULUMI_RUNTIME_VIRTUALENV", filepath.Join(filepath.Dir(path), venv))
			}
		}
	}
	execOrFail(script, append([]string{script}, os.Args[1:]...))
}

func execOrFail(path string, argv []string) {
	err := syscall.Exec(path, argv, os.Environ())
	fail("cannot run %s: %v", path, err)
}

func warn(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "python-host-shim: "+format+"\n", args...)
}

func fail(format string, args ...any) {
	warn(format, args...)
	os.Exit(1)
}
