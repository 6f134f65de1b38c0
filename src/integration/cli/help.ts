/** `--help` texts: the overview, and one per command (`civitscraper organize --help`). */
import type { Command } from './args.ts';

const COMMON = `Options (every command):
  -c, --config FILE    config file (default: $CIVITSCRAPER_CONFIG, ./civitscraper.yaml,
                       ~/.config/civitscraper/config.yaml)
  -j, --job NAME       run this job (default: default_job, else the only job)
      --all-jobs       run every job, in file order
      --dry-run        change nothing on disk (only the state store under scanner.cache_dir);
                       print and report what would be done
      --force-refresh  ignore stored results and ask CivitAI again
      --offline        send no request at all: identify from sources.archive_db and what
                       earlier runs stored; no previews are downloaded
      --no-remote      never send a hash anywhere: identify from sources.archive_db only
      --unreadable warn  files that are not readable models (empty, corrupt, a broken
                       link) are reported but do not make the run exit 1 (default: fail)
      --lock-wait SECONDS  how long to wait for another run on the same scanner.cache_dir
                       before giving up with exit 1 (default: $CIVITSCRAPER_LOCK_WAIT, else 600;
                       0: do not wait)
      --report FILE    write the report as JSON to FILE
      --json           print the report as JSON on stdout (logs stay on stderr)
  -q, --quiet          no progress, only errors on the console
      --debug          debug logs, one line per request and per file (never the API key)
  -v, --version        print the version
  -h, --help           this text (\`civitscraper COMMAND --help\` for one command)`;

const EXIT_CODES = `Exit codes: 0 done, 1 some files failed (listed in the report), 2 bad config or
arguments, 130 interrupted (Ctrl-C; what finished is saved, rerun to continue).`;

export const MAIN_HELP = `Usage: civitscraper [COMMAND] [options]

Identify the model files of your library on CivitAI, write their metadata and previews
next to them, organize them, keep Krita's trigger words in sync, and build the gallery.

Commands:
  scan                 run the job(s): identify, enrich, write sidecars (the default;
                       organizes and syncs Krita too when the job says so)
  organize [--undo [RUN]] [--list]
                       sort identified files into folders (plan table with --dry-run);
                       --undo reverses the latest run that changed something, or RUN;
                       --list shows the runs
  sync-krita           write CivitAI trigger words into Krita AI Diffusion's loras.json
                       (the sync-lora-triggers jobs, or --loras-file FILE)
  build                scan, then build the gallery site (--out DIR)
  report               library report from the sidecars, offline: duplicates, unidentified
                       files, newer versions, changed files, orphan sidecars
  link FILE VERSION    tie a file CivitAI cannot find by hash to a version by hand (a
                       version id, a civitai.com/civitai.red URL, or an AIR); --remove FILE
  updates [--ignore VERSION] [--unignore VERSION]
                       newer versions of your models, for the same base model and variant
                       (early access, paid and on-site-only ones flagged); --ignore hides one

${COMMON}

Examples:
  civitscraper --config ~/models/civitscraper.yaml
  civitscraper -j loras --report run.json
  CIVITAI_API_KEY=... civitscraper --all-jobs --force-refresh
  civitscraper organize -j checkpoints --dry-run
  civitscraper organize --undo
  civitscraper sync-krita --loras-file ~/.local/share/krita/ai_diffusion/database/loras.json
  civitscraper build --out /srv/www/models
  civitscraper report --json > library.json
  civitscraper link ~/models/Lora/merged.safetensors 'https://civitai.com/models/1231067?modelVersionId=1387174'
  civitscraper updates --json > updates.json

${EXIT_CODES}
`;

const COMMAND_HELP: Record<Command, string> = {
  scan: `Usage: civitscraper [scan] [options]

Runs the selected job(s) in order: scan-paths jobs find, hash and identify model files and
write sidecars and previews (and organize them when the job's organization is enabled);
sync-lora-triggers jobs update Krita's loras.json. When the config's HTML output is on
(output.metadata.html.enabled, the default), it then builds the gallery site into
scanner.cache_dir/site, and copies it to html.gallery_path when that is set.

      --no-site        the jobs only, no site

${COMMON}

Examples:
  civitscraper
  civitscraper --no-site --unreadable warn      # a nightly cron scan
  civitscraper scan -j loras --dry-run --report plan.json
  civitscraper --all-jobs --quiet

${EXIT_CODES}
`,
  organize: `Usage: civitscraper organize [options] [--undo [RUN]] [--list]

Scans the job's files, then sorts the identified ones into folders by the job's
organization settings (template, output_dir, operation_mode, on_collision). Each model
moves with its sidecars and previews. Every run is journaled under scanner.cache_dir, so
it can be undone. With organization.dry_run: true in the job, the plan is shown and
nothing is moved (as with --dry-run).

  --dry-run            print the plan as a table and write it as JSON (organize-plan-JOB.json
                       under scanner.cache_dir); nothing is moved
  --undo [RUN]         reverse the latest organize run that changed something (or RUN, as
                       printed by the run or by --list)
  --list               the journaled runs, newest first: id, start, mode, models moved,
                       copied, linked and failed, undone or not (--json: as JSON)

${COMMON}

Examples:
  civitscraper organize -j checkpoints --dry-run
  civitscraper organize -j checkpoints
  civitscraper organize --list
  civitscraper organize --undo
  civitscraper organize --undo 2026-08-22T10-15-30-123Z-a1b2c3

${EXIT_CODES}
`,
  'sync-krita': `Usage: civitscraper sync-krita [options] [--loras-file FILE] [--force]

Writes CivitAI trigger words into Krita AI Diffusion's loras.json, from the sidecars
(offline). Runs the config's sync-lora-triggers jobs (or the one named with -j); without
any, syncs every input path into --loras-file, or into the loras.json in Krita's data folder.
A backup is written before the file changes; --dry-run prints the diff instead.

  --loras-file FILE    the loras.json to update (overrides the job's loras_file)
  --force              write even if Krita changed the file while we were working

${COMMON}

Examples:
  civitscraper sync-krita --dry-run
  civitscraper sync-krita --loras-file ./loras.json

${EXIT_CODES}
`,
  build: `Usage: civitscraper build [options] [--out DIR]

Runs the scan job(s) like \`civitscraper scan\`, then builds the gallery site with Astro.
Inside an Astro project (a folder with astro.config.*), builds that project, whose config adds
the gallery with civitscraper(); anywhere else, builds the bundled gallery site on its own.

  --out DIR            where the site goes (default: the project's dist/, else ./site)
  --astro-cache DIR    Astro's cache folder (default: Astro's own)

${COMMON}

Examples:
  civitscraper build --out /srv/www/models
  civitscraper build -c ~/models/civitscraper.yaml --quiet

${EXIT_CODES}
`,
  report: `Usage: civitscraper report [options]

A report on the library, from the sidecars and the hash ledger, without asking CivitAI:
  - duplicates: the same file (SHA-256) in several places, and the same CivitAI version in
    different files
  - unidentified files (no CivitAI metadata)
  - models with a newer version of the same family (base model and variant), as \`civitscraper updates\` counts them
  - files whose hash no longer matches their sidecar (changed since they were identified)
  - orphan sidecars (the model file is gone)
Run \`civitscraper scan\` first to identify new files.

${COMMON}

Examples:
  civitscraper report
  civitscraper report --all-jobs --json > library.json

${EXIT_CODES}
`,
  link: `Usage: civitscraper link FILE VERSION
       civitscraper link --remove FILE

Ties a model file CivitAI cannot find by its hash (re-saved, merged, converted) to a model
version by hand. VERSION is a version id (1387174), a civitai.com or civitai.red URL with
modelVersionId=, or an AIR (urn:air:sdxl:lora:civitai:MODEL@VERSION). The link is kept under
scanner.cache_dir (links.json), by the file's SHA-256, so it survives renames and moves; the
next scan asks CivitAI for that version (GET /model-versions/:id; the archive of
sources.archive_db with --offline) and marks the record "linked by hand". Another tool may also
write the link into the metadata sidecar as civitscraper.link.
  --remove FILE        forget the link; the next scan identifies the file by hash again

${COMMON}

Examples:
  civitscraper link ~/models/Lora/style.safetensors 1387174
  civitscraper link style.safetensors urn:air:flux1:lora:civitai:1231067@1387174
  civitscraper link --remove style.safetensors

${EXIT_CODES}
`,
  updates: `Usage: civitscraper updates [options] [--ignore VERSION]... [--unignore VERSION]...

Lists the newer versions of the models in the library, as a table (--json: as JSON). A newer
version counts only when it is of the same family as your file: the same base model and the
same variant (Turbo vs Base, fp8 vs fp16, pruned vs full, inpainting, Lightning, Hyper, CKPT vs
safetensors…, read from the version names and file metadata), published after the newest
version of that family you have. Versions in early access, paid ones and on-site-only ones
(usageControl other than Download) are listed with a flag and not counted; ignored ones are
left out of the table. The gallery's "newer version" badges and facet use the same rules.

The models are asked with /models?ids= (100 per request); answers are kept for 24 hours, so a
second run the same day sends nothing. With --offline (or --no-remote, or
sources.civitai.enabled: false in the config) nothing is sent: the answers of the last check
are used, and the last line says how old they are. A model that cannot
be asked keeps what was known, never "no update". The records come from the sidecars: run
\`civitscraper scan\` first to identify new files. Exit code 0 unless the arguments are wrong.

  --ignore VERSION     never offer this version (an id, a civitai.com URL with
                       modelVersionId=, or an AIR); kept in scanner.cache_dir/updates.json
                       (the config's updates.ignore lists more)
  --unignore VERSION   offer it again

${COMMON}

Examples:
  civitscraper updates
  civitscraper updates --offline
  civitscraper updates --ignore 1967584
  civitscraper updates --json > updates.json

${EXIT_CODES}
`,
};

export function helpFor(command: Command | undefined): string {
  return command ? COMMAND_HELP[command] : MAIN_HELP;
}
