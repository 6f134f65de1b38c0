/*
 * What the gallery and the model pages share: storage that may be refused (some file:// setups,
 * private windows), copying to the clipboard, and the personal data kept in this browser —
 * favourites, hidden models, your own tags, notes and preferred LoRA weights — with its export
 * and import as a JSON file.
 *
 * A classic script that defines `CSCommon` (pages opened from file:// cannot load modules).
 * Personal data is keyed by page id (`<file name slug>-<SHA-256 prefix>`), so it follows a
 * file's content and one store serves every gallery of this browser. Everything read back from
 * storage or an imported file is checked and only ever shown as text.
 *
 * A site built with a curation file (`site.curation`, integration/site/curation.ts) bakes its
 * values into the page (`#cs-curation`): they are the base, and this browser keeps only its
 * changes to them, field by field, so an un-starred model stays un-starred here while the file
 * still stars it. Export writes the result (file values with this browser's changes), ready to
 * become the next curation file; `reset` drops one model's changes.
 */
(function (root) {
  'use strict';

  var KEY = 'cs.personal.v1';
  var FORMAT = 'civitscraper-personal';
  var MAX_TAGS = 50;
  var MAX_TAG_LENGTH = 64;
  var MAX_NOTE_LENGTH = 20000;

  function storage(kind) {
    try {
      var store = root[kind];
      var probe = '__cs_probe__';
      store.setItem(probe, '1');
      store.removeItem(probe);
      return store;
    } catch (error) {
      return null;
    }
  }

  // ------------------------------------------------------------ clipboard

  /** Copies with a hidden textarea where the Clipboard API is missing or refused. */
  function fallbackCopy(text, near) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.setAttribute('aria-hidden', 'true');
    area.tabIndex = -1;
    area.style.position = 'fixed';
    area.style.top = '0';
    area.style.left = '0';
    area.style.opacity = '0';
    // Inside an open modal dialog the rest of the page is inert: the textarea must be in it.
    var host = (near && near.closest && near.closest('dialog[open]')) || document.body;
    var back = document.activeElement;
    host.appendChild(area);
    area.focus();
    area.select();
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (error) {
      ok = false;
    }
    area.remove();
    if (back && back.focus && back !== document.body) back.focus();
    return ok ? Promise.resolve() : Promise.reject(new Error('copy refused'));
  }

  function copyText(text, near) {
    if (navigator.clipboard && root.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text, near); });
    }
    return fallbackCopy(text, near);
  }

  /** Marks a button copied (or failed) for a moment and says so in `status`. */
  function copyFeedback(button, ok, status) {
    button.classList.remove('copied', 'copy-failed');
    button.classList.add(ok ? 'copied' : 'copy-failed');
    if (status) {
      status.textContent = '';
      status.textContent = ok ? 'Copied to the clipboard' : 'Copy failed: select the text instead';
    }
    clearTimeout(button.__copyTimer);
    button.__copyTimer = setTimeout(function () {
      button.classList.remove('copied', 'copy-failed');
    }, 1600);
  }

  function copyWithFeedback(text, button, status) {
    return copyText(text, button).then(
      function () { copyFeedback(button, true, status); },
      function () { copyFeedback(button, false, status); },
    );
  }

  // ------------------------------------------------------------ personal data

  function cleanTags(value) {
    if (!Array.isArray(value)) return [];
    var seen = {};
    var tags = [];
    for (var i = 0; i < value.length && tags.length < MAX_TAGS; i++) {
      if (typeof value[i] !== 'string') continue;
      var tag = value[i].replace(/\s+/g, ' ').trim().slice(0, MAX_TAG_LENGTH);
      var key = tag.toLowerCase();
      if (!tag || seen[key]) continue;
      seen[key] = true;
      tags.push(tag);
    }
    return tags;
  }

  /** One model's entry with only known, well-formed fields; null when nothing is left. */
  function cleanEntry(value) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
    var entry = {};
    if (value.favourite === true) entry.favourite = true;
    if (value.hidden === true) entry.hidden = true;
    var tags = cleanTags(value.tags);
    if (tags.length) entry.tags = tags;
    if (typeof value.note === 'string' && value.note.trim()) entry.note = value.note.slice(0, MAX_NOTE_LENGTH);
    if (typeof value.weight === 'number' && isFinite(value.weight) && value.weight >= -10 && value.weight <= 10 && value.weight !== 1) {
      entry.weight = Math.round(value.weight * 100) / 100;
    }
    return Object.keys(entry).length ? entry : null;
  }

  var ID = /^[A-Za-z0-9._~%-]{1,200}$/;

  function cleanModels(value) {
    var models = {};
    var count = 0;
    if (!value || typeof value !== 'object' || Array.isArray(value)) return { models: models, count: 0 };
    Object.keys(value).forEach(function (id) {
      if (!ID.test(id) || id === '__proto__') return;
      var entry = cleanEntry(value[id]);
      if (entry) {
        models[id] = entry;
        count++;
      }
    });
    return { models: models, count: count };
  }

  var FIELDS = ['favourite', 'hidden', 'tags', 'note', 'weight'];
  var DEFAULTS = { favourite: false, hidden: false, tags: [], note: '', weight: 1 };

  /**
   * A stored entry: this browser's changes over the page's baked values, field by field. Unlike
   * an exported entry it may say "not" (`favourite: false`, `tags: []`, `note: ''`, `weight: 1`)
   * where the curation file says otherwise.
   */
  function cleanStored(value) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
    var entry = {};
    if (typeof value.favourite === 'boolean') entry.favourite = value.favourite;
    if (typeof value.hidden === 'boolean') entry.hidden = value.hidden;
    if (Array.isArray(value.tags)) entry.tags = cleanTags(value.tags);
    if (typeof value.note === 'string') entry.note = value.note.trim() ? value.note.slice(0, MAX_NOTE_LENGTH) : '';
    if (typeof value.weight === 'number' && isFinite(value.weight) && value.weight >= -10 && value.weight <= 10) {
      entry.weight = Math.round(value.weight * 100) / 100;
    }
    return Object.keys(entry).length ? entry : null;
  }

  function same(a, b) {
    return JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
  }

  /** The baked values of this page (the build's curation file), `{ id: entry }`. */
  function readBaked() {
    var node = root.document && root.document.getElementById('cs-curation');
    if (!node) return {};
    try {
      var parsed = JSON.parse(node.textContent || '{}');
      return cleanModels(parsed && parsed.models).models;
    } catch (error) {
      return {};
    }
  }

  function createPersonal() {
    var local = storage('localStorage');
    var baked = readBaked();
    var changes = read();
    var listeners = [];

    function read() {
      if (!local) return {};
      try {
        var parsed = JSON.parse(local.getItem(KEY) || 'null');
        var stored = parsed && parsed.models;
        var out = {};
        if (!stored || typeof stored !== 'object' || Array.isArray(stored)) return out;
        Object.keys(stored).forEach(function (id) {
          if (!ID.test(id) || id === '__proto__') return;
          var entry = cleanStored(stored[id]);
          if (entry) out[id] = entry;
        });
        return out;
      } catch (error) {
        return {};
      }
    }

    function write() {
      if (!local) return false;
      try {
        local.setItem(KEY, JSON.stringify({ v: 1, models: changes }));
        return true;
      } catch (error) {
        return false;
      }
    }

    function emit(source) {
      listeners.forEach(function (listener) { listener(source); });
    }

    /** What a model has: the baked values with this browser's changes on top. */
    function merged(id) {
      var entry = Object.assign({}, baked[id] || {}, changes[id] || {});
      return cleanEntry(entry) || {};
    }

    /** Stores `next` (a full entry) as the fields that differ from the baked values. */
    function store(id, next) {
      var clean = cleanEntry(next) || {};
      var base = baked[id] || {};
      var diff = {};
      FIELDS.forEach(function (field) {
        var value = clean[field];
        if (same(value, base[field])) return;
        diff[field] = value === undefined ? DEFAULTS[field] : value;
      });
      if (Object.keys(diff).length) changes[id] = diff;
      else delete changes[id];
    }

    function ids() {
      var all = {};
      Object.keys(baked).concat(Object.keys(changes)).forEach(function (id) {
        if (Object.keys(merged(id)).length) all[id] = true;
      });
      return Object.keys(all);
    }

    // Another tab (the gallery and a model page) changed it.
    root.addEventListener('storage', function (event) {
      if (event.key !== KEY && event.key !== null) return;
      changes = read();
      emit('storage');
    });

    return {
      /** False when this browser keeps nothing for this page (the data lasts until it closes). */
      persistent: Boolean(local),
      get: function (id) {
        return JSON.parse(JSON.stringify(merged(id)));
      },
      /** `change(entry)` edits a copy of the entry; an empty entry is removed. */
      update: function (id, change) {
        if (!ID.test(id)) return;
        var entry = this.get(id);
        change(entry);
        store(id, entry);
        write();
        emit('local');
      },
      /** Whether the build's curation file has values for this model. */
      baked: function (id) { return Boolean(baked[id]); },
      /** Whether this browser changed this model's values (over the curation file's, if any). */
      changed: function (id) { return Boolean(changes[id]); },
      /** Drops this browser's changes for one model: the curation file's values (or none) again. */
      reset: function (id) {
        if (!changes[id]) return;
        delete changes[id];
        write();
        emit('local');
      },
      ids: ids,
      count: function () { return ids().length; },
      bakedCount: function () { return Object.keys(baked).length; },
      onChange: function (listener) { listeners.push(listener); },
      /** The file `export` offers: every entry, with the model's name when `nameOf` knows it. */
      exportText: function (nameOf) {
        var out = {};
        ids().sort().forEach(function (id) {
          var entry = merged(id);
          var name = nameOf ? nameOf(id) : '';
          out[id] = name ? Object.assign({ name: name }, entry) : entry;
        });
        return JSON.stringify({ format: FORMAT, version: 1, exported: new Date().toISOString(), models: out }, null, 2) + '\n';
      },
      /** Adds the entries of an exported file (an entry replaces this browser's one for that model). */
      importText: function (text) {
        var parsed;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          throw new Error('This is not a JSON file.');
        }
        if (!parsed || parsed.format !== FORMAT) throw new Error('This is not a CivitScraper personal data file.');
        var clean = cleanModels(parsed.models);
        Object.keys(clean.models).forEach(function (id) { store(id, clean.models[id]); });
        write();
        emit('local');
        return clean.count;
      },
      /** Forgets every change made in this browser (the curation file's values stay). */
      clear: function () {
        changes = {};
        write();
        emit('local');
      },
    };
  }

  /** Offers `text` as a download called `name`. */
  function download(name, text) {
    var blob = new Blob([text], { type: 'application/json' });
    var url = URL.createObjectURL(blob);
    var link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  root.CSCommon = {
    storage: storage,
    copyText: copyText,
    copyWithFeedback: copyWithFeedback,
    personal: createPersonal(),
    cleanTags: cleanTags,
    download: download,
  };
})(window);
