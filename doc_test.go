package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportedIdentifiersAreDocumented holds the construct packages to their promise to importers:
// every exported type, function, method, constant, variable and struct field has a doc comment,
// and a declaration's comment starts with its name. It is pure Go and starts no jsii.
func TestExportedIdentifiersAreDocumented(t *testing.T) {
	var missing []string
	report := func(fset *token.FileSet, pos token.Pos, what string) {
		missing = append(missing, fset.Position(pos).String()+": "+what)
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (path == "node_modules" || path == "sample-app" || path == "cdk.out" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil || file.Name.Name == "main" {
			return err
		}
		for _, decl := range file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && (d.Recv == nil || receiverExported(d.Recv)) {
					checkDoc(d.Doc, d.Name.Name, func(what string) { report(fset, d.Pos(), what) })
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						doc := s.Doc
						if doc == nil && len(d.Specs) == 1 {
							doc = d.Doc
						}
						checkDoc(doc, s.Name.Name, func(what string) { report(fset, s.Pos(), what) })
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, f := range st.Fields.List {
								for _, name := range f.Names {
									if name.IsExported() && f.Doc == nil {
										report(fset, name.Pos(), s.Name.Name+"."+name.Name+" has no doc comment")
									}
								}
							}
						}
					case *ast.ValueSpec:
						for _, name := range s.Names {
							if name.IsExported() && s.Doc == nil && d.Doc == nil && s.Comment == nil {
								report(fset, name.Pos(), name.Name+" has no doc comment")
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Error(m)
	}
}

func receiverExported(recv *ast.FieldList) bool {
	typ := recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

func checkDoc(doc *ast.CommentGroup, name string, report func(string)) {
	switch {
	case doc == nil:
		report(name + " has no doc comment")
	case !strings.HasPrefix(doc.Text(), name+" ") && !strings.HasPrefix(doc.Text(), "A "+name+" ") && !strings.HasPrefix(doc.Text(), "An "+name+" "):
		report(name + "'s doc comment does not start with its name")
	}
}
