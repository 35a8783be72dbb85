//! What `eclat fleet status` and `fleet nodes` show, read from etcd: each script's committed
//! generation, a rollout in progress and every node's last answer; each node's info and
//! whether it is live. Serialisable: the `--json` forms.

use std::collections::BTreeMap;

use etcd_client::Client;
use serde::Serialize;

use crate::error::Result;
use crate::keys::Layout;
use crate::model::{Action, Committed, NodeInfo, Proposal, Status};
use crate::store;

/// A node as `fleet nodes` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeView {
    /// Its registration.
    #[serde(flatten)]
    pub info: NodeInfo,
    /// Whether its lease is alive.
    pub alive: bool,
}

/// A node's answer about a script.
#[derive(Clone, Debug, Serialize)]
pub struct NodeStatusView {
    /// The node.
    pub node: String,
    /// Whether it is live.
    pub alive: bool,
    /// Its last answer.
    #[serde(flatten)]
    pub status: Status,
}

/// A script as `fleet status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ScriptView {
    /// Its name.
    pub name: String,
    /// The committed generation (0: none yet).
    pub generation: u64,
    /// `apply` or `delete`.
    pub action: String,
    /// Its file, for an apply.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    /// Its selector.
    pub selector: BTreeMap<String, String>,
    /// The generation being rolled out, if a rollout is in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<u64>,
    /// Each node's last answer.
    pub nodes: Vec<NodeStatusView>,
}

/// Every registered node, live or not.
pub async fn nodes(client: &mut Client, layout: &Layout) -> Result<Vec<NodeView>> {
    let alive = store::keys(client, &layout.alive_all()).await?;
    let (infos, _) = store::list::<NodeInfo>(client, &layout.nodes()).await?;
    Ok(infos
        .into_iter()
        .map(|r| NodeView {
            alive: alive
                .iter()
                .any(|k| Layout::leaf(k, &layout.alive_all()) == Some(r.value.name.as_str())),
            info: r.value,
        })
        .collect())
}

/// Every script (or only `only`), by name.
pub async fn scripts(
    client: &mut Client,
    layout: &Layout,
    only: Option<&str>,
) -> Result<Vec<ScriptView>> {
    let alive = store::keys(client, &layout.alive_all()).await?;
    let is_alive = |n: &str| {
        alive
            .iter()
            .any(|k| Layout::leaf(k, &layout.alive_all()) == Some(n))
    };
    let (committed, _) = store::list::<serde_json::Value>(client, &layout.scripts()).await?;
    let mut views: BTreeMap<String, ScriptView> = BTreeMap::new();
    for rec in committed {
        let Some((name, which)) = layout.parse_script_key(&rec.key) else {
            continue;
        };
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let view = views.entry(name.to_owned()).or_insert_with(|| ScriptView {
            name: name.to_owned(),
            generation: 0,
            action: String::new(),
            file_name: String::new(),
            selector: BTreeMap::new(),
            in_progress: None,
            nodes: Vec::new(),
        });
        match which {
            "committed" => {
                let c: Committed = serde_json::from_value(rec.value).map_err(|source| {
                    crate::FleetError::Corrupt {
                        key: rec.key.clone(),
                        source,
                    }
                })?;
                view.generation = c.generation;
                match &c.action {
                    Action::Apply { spec } => {
                        view.action = "apply".into();
                        view.file_name = spec.file_name.clone();
                        view.selector = spec.selector.clone();
                    }
                    Action::Delete => view.action = "delete".into(),
                }
            }
            "proposal" => {
                let p: Proposal = serde_json::from_value(rec.value).map_err(|source| {
                    crate::FleetError::Corrupt {
                        key: rec.key.clone(),
                        source,
                    }
                })?;
                view.in_progress = Some(p.generation);
            }
            _ => {}
        }
    }
    for view in views.values_mut() {
        let (statuses, _) = store::list::<Status>(client, &layout.statuses(&view.name)).await?;
        view.nodes = statuses
            .into_iter()
            .filter_map(|r| {
                let node = Layout::leaf(&r.key, &layout.statuses(&view.name))?.to_owned();
                Some(NodeStatusView {
                    alive: is_alive(&node),
                    node,
                    status: r.value,
                })
            })
            .collect();
    }
    Ok(views.into_values().collect())
}
