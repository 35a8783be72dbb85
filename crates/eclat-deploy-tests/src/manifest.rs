//! Kubernetes manifests read strictly: every YAML document of a file into its `k8s-openapi`
//! type by `kind`, and any key the type does not have is an error naming its path.
//!
//! `k8s-openapi`'s types skip unknown keys, as the API server did before field validation;
//! `kubectl apply` today refuses them (`--validate=strict`). So each document goes through
//! [`serde_ignored`], which reports every key a type skipped: a misspelt or misplaced field
//! fails here as it would on a cluster. The kustomization is not an API object: it is read
//! into [`Kustomization`], which denies unknown fields itself.
//!
//! It is not a validator of values (a bad quantity or a port out of range pass if they have
//! the right type), nor of references between objects: the tests check those they need.

use std::fs;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_yaml_ng::Value;

/// The Kubernetes API version the types are of (`k8s-openapi`'s feature).
pub const API: &str = "v1.33";

/// The file of the kustomization in a manifest directory.
pub const KUSTOMIZATION: &str = "kustomization.yaml";

/// An API object of a kind the deployment uses.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    /// `v1/Namespace`.
    Namespace(Namespace),
    /// `v1/ServiceAccount`.
    ServiceAccount(ServiceAccount),
    /// `v1/ConfigMap`.
    ConfigMap(ConfigMap),
    /// `v1/Secret`.
    Secret(Secret),
    /// `apps/v1/DaemonSet` (boxed: it is five times the size of the others).
    DaemonSet(Box<DaemonSet>),
}

/// One document of a manifest file, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The file it is in.
    pub file: PathBuf,
    /// Its position in the file, from 1.
    pub number: usize,
    /// The object.
    pub object: Object,
}

/// The fields of a `kustomization.yaml` the deployment uses (kustomize has more: add them
/// here when a manifest needs one).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Kustomization {
    /// `kustomize.config.k8s.io/v1beta1`.
    pub api_version: String,
    /// `Kustomization`.
    pub kind: String,
    /// The namespace set on every resource.
    pub namespace: Option<String>,
    /// The manifest files, relative to the kustomization.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Image names replaced in every resource.
    #[serde(default)]
    pub images: Vec<KustomizeImage>,
}

/// An `images:` entry of a kustomization.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KustomizeImage {
    /// The image name as the manifests write it.
    pub name: String,
    /// The name it becomes.
    pub new_name: Option<String>,
    /// The tag it gets.
    pub new_tag: Option<String>,
    /// Or the digest it gets.
    pub digest: Option<String>,
}

/// A manifest directory: its kustomization and every object of its other `.yaml` files.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifests {
    /// `kustomization.yaml`.
    pub kustomization: Kustomization,
    /// The other `.yaml` files' names, sorted.
    pub files: Vec<String>,
    /// Their objects, in file and document order.
    pub objects: Vec<Document>,
}

/// Why a manifest is refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file or directory cannot be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A document is not YAML.
    #[error("{}, document {number}: not YAML: {source}", file.display())]
    Yaml {
        /// The file.
        file: PathBuf,
        /// The document's position in the file, from 1.
        number: usize,
        /// The parser's error.
        source: serde_yaml_ng::Error,
    },
    /// A document has no `kind` or `apiVersion` string.
    #[error("{}, document {number}: no `{field}`: every Kubernetes object names its `apiVersion` and `kind`", file.display())]
    Untyped {
        /// The file.
        file: PathBuf,
        /// The document's position in the file, from 1.
        number: usize,
        /// `kind` or `apiVersion`.
        field: &'static str,
    },
    /// A kind [`Object`] does not cover.
    #[error("{}, document {number}: kind `{kind}` ({api_version}) is not one these checks read: add it to `manifest::Object`", file.display())]
    UnknownKind {
        /// The file.
        file: PathBuf,
        /// The document's position in the file, from 1.
        number: usize,
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
    },
    /// The document does not have the type's shape (a wrong type, a wrong `apiVersion`).
    #[error("{}, document {number}: not a valid {kind}: {source}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The document's position in the file, from 1.
        number: usize,
        /// Its `kind`.
        kind: String,
        /// The deserializer's error.
        source: serde_yaml_ng::Error,
    },
    /// Keys the type does not have.
    #[error("{}, document {number}: {kind} has no field {} in the Kubernetes API ({API}): misspelt or misplaced", file.display(), paths.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "))]
    UnknownFields {
        /// The file.
        file: PathBuf,
        /// The document's position in the file, from 1.
        number: usize,
        /// Its `kind`.
        kind: String,
        /// The keys, as paths from the document's root (`spec.template.spec.hostNetwrk`).
        paths: Vec<String>,
    },
    /// The kustomization is not one [`Kustomization`] reads.
    #[error("{}: not a kustomization these checks read (an unknown field is refused: add it to `manifest::Kustomization`): {source}", file.display())]
    Kustomization {
        /// The file.
        file: PathBuf,
        /// The deserializer's error.
        source: serde_yaml_ng::Error,
    },
}

/// `path` as a manifest's reader writes it: keys and list positions joined by dots
/// (`spec.template.spec.containers.0.image`), without the steps through an `Option` or a
/// newtype that `serde_ignored` records as `?`.
fn dotted(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    let (parent, step) = match path {
        P::Root => return String::new(),
        P::Seq { parent, index } => (parent, index.to_string()),
        P::Map { parent, key } => (parent, key.clone()),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            return dotted(parent)
        }
    };
    let above = dotted(parent);
    if above.is_empty() {
        step
    } else {
        format!("{above}.{step}")
    }
}

/// Deserializes `value` as a `T`, refusing any key `T` skips.
fn strict<T: DeserializeOwned>(
    value: Value,
) -> Result<T, (Option<serde_yaml_ng::Error>, Vec<String>)> {
    let mut ignored = Vec::new();
    let parsed: Result<T, _> =
        serde_ignored::deserialize(value, |path| ignored.push(dotted(&path)));
    match parsed {
        Err(e) => Err((Some(e), ignored)),
        Ok(_) if !ignored.is_empty() => Err((None, ignored)),
        Ok(t) => Ok(t),
    }
}

/// Every document of `text` (the contents of `file`), each into its type. Empty documents
/// (a trailing `---`) are skipped.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Document>, ManifestError> {
    let mut documents = Vec::new();
    for (number, de) in (1..).zip(serde_yaml_ng::Deserializer::from_str(text)) {
        let value = Value::deserialize(de).map_err(|source| ManifestError::Yaml {
            file: file.to_owned(),
            number,
            source,
        })?;
        if value.is_null() {
            continue;
        }
        let field = |name: &'static str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(ManifestError::Untyped {
                    file: file.to_owned(),
                    number,
                    field: name,
                })
        };
        let api_version = field("apiVersion")?;
        let kind = field("kind")?;
        let typed = match (api_version.as_str(), kind.as_str()) {
            ("v1", "Namespace") => strict(value).map(Object::Namespace),
            ("v1", "ServiceAccount") => strict(value).map(Object::ServiceAccount),
            ("v1", "ConfigMap") => strict(value).map(Object::ConfigMap),
            ("v1", "Secret") => strict(value).map(Object::Secret),
            ("apps/v1", "DaemonSet") => strict(value).map(|d| Object::DaemonSet(Box::new(d))),
            _ => {
                return Err(ManifestError::UnknownKind {
                    file: file.to_owned(),
                    number,
                    api_version,
                    kind,
                })
            }
        };
        let object = typed.map_err(|(error, paths)| match error {
            Some(source) => ManifestError::Invalid {
                file: file.to_owned(),
                number,
                kind: kind.clone(),
                source,
            },
            None => ManifestError::UnknownFields {
                file: file.to_owned(),
                number,
                kind: kind.clone(),
                paths,
            },
        })?;
        documents.push(Document {
            file: file.to_owned(),
            number,
            object,
        });
    }
    Ok(documents)
}

/// The kustomization of `text` (the contents of `file`).
pub fn parse_kustomization(file: &Path, text: &str) -> Result<Kustomization, ManifestError> {
    serde_yaml_ng::from_str(text).map_err(|source| ManifestError::Kustomization {
        file: file.to_owned(),
        source,
    })
}

fn read(path: &Path) -> Result<String, ManifestError> {
    fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads the manifest directory `dir`: its [`KUSTOMIZATION`] and every other `.yaml` or
/// `.yml` file in it.
pub fn read_dir(dir: &Path) -> Result<Manifests, ManifestError> {
    let read_err = |source| ManifestError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let name = entry.map_err(read_err)?.file_name();
        let name = name.to_string_lossy().into_owned();
        if (name.ends_with(".yaml") || name.ends_with(".yml")) && name != KUSTOMIZATION {
            files.push(name);
        }
    }
    files.sort();
    let path = dir.join(KUSTOMIZATION);
    let kustomization = parse_kustomization(&path, &read(&path)?)?;
    let mut objects = Vec::new();
    for name in &files {
        let path = dir.join(name);
        objects.extend(parse(&path, &read(&path)?)?);
    }
    Ok(Manifests {
        kustomization,
        files,
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAEMONSET: &str = "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: d
spec:
  selector:
    matchLabels: {app: d}
  template:
    metadata:
      labels: {app: d}
    spec:
      hostNetwork: true
      containers:
        - name: c
          image: i
          volumeMounts:
            - name: bpffs
              mountPath: /sys/fs/bpf
              mountPropagation: Bidirectional
";

    fn one(text: &str) -> Result<Object, ManifestError> {
        let mut docs = parse(Path::new("inline.yaml"), text)?;
        assert_eq!(docs.len(), 1, "one document in {text}");
        Ok(docs.remove(0).object)
    }

    #[test]
    fn a_correct_daemonset_is_read_with_its_fields() {
        let Object::DaemonSet(ds) = one(DAEMONSET).unwrap() else {
            panic!("not a DaemonSet");
        };
        let pod = ds.spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.host_network, Some(true));
        let mount = &pod.containers[0].volume_mounts.as_ref().unwrap()[0];
        assert_eq!(mount.mount_propagation.as_deref(), Some("Bidirectional"));
    }

    #[test]
    fn a_misspelt_field_is_refused_with_its_path() {
        let text = DAEMONSET.replace("hostNetwork", "hostNetwrok");
        let err = one(&text).unwrap_err();
        assert!(
            matches!(&err, ManifestError::UnknownFields { paths, kind, .. }
                if kind == "DaemonSet" && paths == &["spec.template.spec.hostNetwrok"]),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("DaemonSet has no field `spec.template.spec.hostNetwrok`"),
            "{err}"
        );
    }

    #[test]
    fn a_misspelt_field_deep_in_a_list_is_refused() {
        let text = DAEMONSET.replace("mountPropagation", "mountPropogation");
        let err = one(&text).unwrap_err();
        assert!(
            matches!(&err, ManifestError::UnknownFields { paths, .. }
                if paths == &["spec.template.spec.containers.0.volumeMounts.0.mountPropogation"]),
            "{err:?}"
        );
    }

    #[test]
    fn a_field_at_the_wrong_level_is_refused() {
        // `hostNetwork` belongs to the pod's spec, not the DaemonSet's.
        let text = DAEMONSET.replace(
            "spec:\n  selector:",
            "spec:\n  hostNetwork: true\n  selector:",
        );
        let err = one(&text).unwrap_err();
        assert!(
            matches!(&err, ManifestError::UnknownFields { paths, .. } if paths == &["spec.hostNetwork"]),
            "{err:?}"
        );
    }

    #[test]
    fn a_wrong_type_is_invalid() {
        let text = DAEMONSET.replace("hostNetwork: true", "hostNetwork: [yes]");
        let err = one(&text).unwrap_err();
        assert!(matches!(err, ManifestError::Invalid { .. }), "{err:?}");
    }

    #[test]
    fn every_document_of_a_file_is_read_and_empty_ones_skipped() {
        let text = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n\
                    apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b}\n---\n";
        let docs = parse(Path::new("two.yaml"), text).unwrap();
        assert_eq!(docs.len(), 2);
        assert!(matches!(docs[0].object, Object::Namespace(_)));
        assert!(matches!(docs[1].object, Object::ServiceAccount(_)));
        // The misspelling in the second document is found, and said to be there.
        let bad = text.replace("metadata: {name: b}", "metdata: {name: b}");
        let err = parse(Path::new("two.yaml"), &bad).unwrap_err();
        assert!(
            matches!(&err, ManifestError::UnknownFields { number: 2, paths, .. } if paths == &["metdata"]),
            "{err:?}"
        );
    }

    #[test]
    fn an_unknown_kind_or_a_wrong_api_version_is_refused() {
        let err = one("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n").unwrap_err();
        assert!(matches!(err, ManifestError::UnknownKind { .. }), "{err:?}");
        let err =
            one("apiVersion: apps/v1\nkind: ServiceAccount\nmetadata: {name: p}\n").unwrap_err();
        assert!(matches!(err, ManifestError::UnknownKind { .. }), "{err:?}");
        let err = one("kind: Namespace\nmetadata: {name: p}\n").unwrap_err();
        assert!(
            matches!(
                err,
                ManifestError::Untyped {
                    field: "apiVersion",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_kustomization_with_an_unknown_field_is_refused() {
        let good = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n";
        let k = parse_kustomization(Path::new("k.yaml"), good).unwrap();
        assert_eq!(k.resources, ["a.yaml"]);
        let bad = good.replace("resources", "resource");
        let err = parse_kustomization(Path::new("k.yaml"), &bad).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `resource`"),
            "{err}"
        );
    }
}
