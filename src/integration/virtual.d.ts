declare module 'virtual:civitscraper/settings' {
  const settings: import('./site/settings.ts').SiteSettings;
  export default settings;
}
