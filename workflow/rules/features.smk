# Stage: features (rules are added here)
