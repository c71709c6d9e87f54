// Command sdkgen writes the alirestart SDKs (Node.js, Go, Python) from the package schema,
// offline: it calls the Pulumi code generators of the pinned github.com/pulumi/pulumi/pkg/v3
// directly instead of `pulumi package gen-sdk`, which needs the language plugins.
//
//	go run ./tools/sdkgen -schema providers/restart_trigger/plugin/schema.json -out sdk
//
// Output is deterministic: the same schema gives the same bytes (no timestamps, files written
// in sorted order, modes 0644/0755). Each language's folder (out/nodejs, out/go, out/python) is
// replaced as a whole, so a file the schema no longer produces does not linger.
//
// The Go SDK gets a go.mod requiring github.com/pulumi/pulumi/sdk/v3 at the version this
// generator is built with (the codegen's own, v3.259.0 in go.mod), and, unless -go-tidy=false,
// a go.sum from `go mod tidy` so `go build ./...` works in out/go.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/blang/semver"
	"github.com/hashicorp/hcl/v2"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"golang.org/x/mod/modfile"
)

const tool = "restart-trigger tools/sdkgen"

const sdkModule = "github.com/pulumi/pulumi/sdk/v3"

var languages = []string{"nodejs", "go", "python"}

func main() {
	schemaPath := flag.String("schema", "", "the package schema (JSON)")
	out := flag.String("out", "", "output folder: nodejs/, go/ and python/ are written under it")
	langs := flag.String("languages", strings.Join(languages, ","), "languages to generate, comma separated")
	goTidy := flag.Bool("go-tidy", true, "run `go mod tidy` in the Go SDK to write its go.sum")
	flag.Parse()
	if *schemaPath == "" || *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: sdkgen -schema <schema.json> -out <folder> [-languages nodejs,go,python] [-go-tidy=false]")
		os.Exit(2)
	}
	if err := run(*schemaPath, *out, strings.Split(*langs, ","), *goTidy); err != nil {
		fmt.Fprintln(os.Stderr, "sdkgen:", err)
		os.Exit(1)
	}
}

func run(schemaPath, out string, langs []string, goTidy bool) error {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	for _, lang := range langs {
		pkg, err := bind(raw, schemaPath)
		if err != nil {
			return err
		}
		var files map[string][]byte
		switch lang {
		case "nodejs":
			files, err = nodejs.GeneratePackage(tool, pkg, nil, nil, false, noLoader{})
		case "go":
			files, err = gogen.GeneratePackage(tool, pkg, nil)
			if err == nil {
				err = pinGoMod(files)
			}
		case "python":
			files, err = python.GeneratePackage(tool, pkg, nil, noLoader{})
		default:
			return fmt.Errorf("unknown language %q (known: %s)", lang, strings.Join(languages, ", "))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", lang, err)
		}
		dir := filepath.Join(out, lang)
		if err := writeTree(dir, files); err != nil {
			return fmt.Errorf("%s: %w", lang, err)
		}
		if lang == "go" && goTidy {
			if err := tidy(dir); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "sdkgen: %s: %d files in %s\n", lang, len(files), dir)
	}
	return nil
}

// bind parses and validates the schema; each language gets its own *schema.Package because
// the generators record their language options in it.
func bind(raw []byte, name string) (*schema.Package, error) {
	var spec schema.PackageSpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var problems []string
	for _, d := range diags {
		line := fmt.Sprintf("%s: %s", name, d.Summary)
		if d.Detail != "" {
			line += ": " + d.Detail
		}
		if d.Severity == hcl.DiagError {
			problems = append(problems, line)
		} else {
			fmt.Fprintln(os.Stderr, "sdkgen: warning:", line)
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return pkg, nil
}

// pinGoMod makes the Go SDK require the Pulumi Go SDK this generator is built with (the
// codegen's go.mod template names an older release).
func pinGoMod(files map[string][]byte) error {
	data, ok := files["go.mod"]
	if !ok {
		return errors.New("the Go generator wrote no go.mod (is meta.supportPack set?)")
	}
	version, err := moduleVersion(sdkModule)
	if err != nil {
		return err
	}
	mod, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return err
	}
	if err := mod.AddRequire(sdkModule, version); err != nil {
		return err
	}
	mod.Cleanup()
	files["go.mod"], err = mod.Format()
	return err
}

func moduleVersion(module string) (string, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", errors.New("no build information in this binary")
	}
	for _, dep := range info.Deps {
		if dep.Path == module {
			if dep.Replace != nil {
				return "", fmt.Errorf("%s is replaced by %s: pin a released version", module, dep.Replace.Path)
			}
			return dep.Version, nil
		}
	}
	return "", fmt.Errorf("%s is not a dependency of this binary", module)
}

// tidy writes go.sum (and the indirect requirements) of the Go SDK, as `go mod tidy` does.
func tidy(dir string) error {
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go mod tidy in %s: %w", dir, err)
	}
	return nil
}

// writeTree replaces dir with exactly files, in sorted order with fixed modes.
func writeTree(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		clean := path.Clean(name)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("generated file %q is outside the output folder", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if bytes.HasPrefix(files[name], []byte("#!")) {
			mode = 0o755
		}
		if err := os.WriteFile(target, files[name], mode); err != nil {
			return err
		}
		if err := os.Chmod(target, mode); err != nil { // WriteFile's mode is masked by umask
			return err
		}
	}
	return nil
}

// noLoader refuses every package: the schema references no other package, so any load is a
// mistake to report rather than a plugin to download.
type noLoader struct{}

func (noLoader) refuse(name string) error {
	return fmt.Errorf("the schema references package %q: sdkgen loads no other package", name)
}

func (l noLoader) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, l.refuse(pkg)
}

func (l noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, l.refuse(d.Name)
}

func (l noLoader) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, l.refuse(pkg)
}

func (l noLoader) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, l.refuse(d.Name)
}
