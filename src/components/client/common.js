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

  function createPersonal() {
    var local = storage('localStorage');
    var models = read();
    var listeners = [];

    function read() {
      if (!local) return {};
      try {
        var parsed = JSON.parse(local.getItem(KEY) || 'null');
        return cleanModels(parsed && parsed.models).models;
      } catch (error) {
        return {};
      }
    }

    function write() {
      if (!local) return false;
      try {
        local.setItem(KEY, JSON.stringify({ v: 1, models: models }));
        return true;
      } catch (error) {
        return false;
      }
    }

    function emit(source) {
      listeners.forEach(function (listener) { listener(source); });
    }

    // Another tab (the gallery and a model page) changed it.
    root.addEventListener('storage', function (event) {
      if (event.key !== KEY && event.key !== null) return;
      models = read();
      emit('storage');
    });

    return {
      /** False when this browser keeps nothing for this page (the data lasts until it closes). */
      persistent: Boolean(local),
      get: function (id) {
        var entry = models[id];
        return entry ? JSON.parse(JSON.stringify(entry)) : {};
      },
      /** `change(entry)` edits a copy of the entry; an empty entry is removed. */
      update: function (id, change) {
        if (!ID.test(id)) return;
        var entry = this.get(id);
        change(entry);
        var clean = cleanEntry(entry);
        if (clean) models[id] = clean;
        else delete models[id];
        write();
        emit('local');
      },
      ids: function () { return Object.keys(models); },
      count: function () { return Object.keys(models).length; },
      onChange: function (listener) { listeners.push(listener); },
      /** The file `export` offers: every entry, with the model's name when `nameOf` knows it. */
      exportText: function (nameOf) {
        var out = {};
        Object.keys(models).sort().forEach(function (id) {
          var entry = JSON.parse(JSON.stringify(models[id]));
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
        Object.keys(clean.models).forEach(function (id) { models[id] = clean.models[id]; });
        write();
        emit('local');
        return clean.count;
      },
      clear: function () {
        models = {};
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
