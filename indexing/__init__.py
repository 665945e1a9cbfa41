"""The only package that writes Elasticsearch documents."""
from .admin import IndexingError, install_template, live_index, template_version
from .documents import build_document, load_children
from .rebuilder import rebuild
from .status import index_status
from .sync import SyncResult, follow, sync_once, sync_until_current
from .verify import Drift, VerifyReport, verify

CHECKPOINT = "children-sync"

__all__ = ["CHECKPOINT", "Drift", "IndexingError", "SyncResult", "VerifyReport", "verify", "build_document", "follow", "index_status",
           "install_template", "live_index", "load_children", "rebuild", "sync_once", "sync_until_current",
           "template_version"]
