declare module 'virtual:civitscraper/settings' {
  const settings: import('./integration/site/settings.ts').SiteSettings;
  export default settings;
}
