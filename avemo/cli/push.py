"""`avemo push`: upload a folder written by `avemo export` to the hub."""

import sys
from pathlib import Path

from avemo.cli.common import add_debug_flag, megabytes


def add_parser(commands) -> None:
    """Add the `avemo push` subparser."""
    push = commands.add_parser(
        "push",
        help="upload a folder written by avemo export to the hub",
        description="Checks the folder (exactly the files avemo export writes), creates the model repository if needed "
        "and uploads it with huggingface_hub. Log in first (hf auth login) or set HF_TOKEN.",
    )
    push.add_argument("folder", metavar="HUBDIR", help="a folder written by avemo export")
    push.add_argument("--repo-id", required=True, help="user/name or organisation/name")
    push.add_argument(
        "--private", action="store_true", help="create the repository as private (an existing one keeps its visibility)"
    )
    push.add_argument("--dry-run", action="store_true", help="list what would be uploaded; upload nothing")
    push.add_argument("--message", default=None, help="commit message")
    push.add_argument("--token", default=None, help="hub token (default: HF_TOKEN or the stored login)")
    add_debug_flag(push)
    push.set_defaults(run=run)


def run(args) -> int:
    """Upload the folder (or, with --dry-run, list what would go) and say where it went. Returns the exit status (0)."""
    from avemo.hub_card import push_folder

    plan = push_folder(
        args.folder,
        args.repo_id,
        private=args.private,
        dry_run=args.dry_run,
        token=args.token,
        commit_message=args.message,
    )
    for name, size in plan["files"].items():
        print(f"{name}\t{size}")
    total = sum(plan["files"].values())
    readme = Path(args.folder, "README.md").read_text(encoding="utf-8")
    if args.repo_id not in readme:
        print(
            f"avemo push: note: the card's examples do not name {args.repo_id}; "
            f"export with --repo-id {args.repo_id} to fix that",
            file=sys.stderr,
        )
    if args.dry_run:
        print(
            f"dry run: would upload {len(plan['files'])} files ({megabytes(total)}) "
            f"to https://huggingface.co/{args.repo_id}; nothing was sent",
            file=sys.stderr,
        )
    else:
        print(f"uploaded {len(plan['files'])} files ({megabytes(total)}): {plan['url']}", file=sys.stderr)
    return 0
